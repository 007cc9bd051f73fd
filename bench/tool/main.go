// Command benchtool is the bench's process-level instrument. bench/run.ts drives it; each
// sub-command reads a JSON spec on stdin and prints one JSON result on stdout.
//
//	lambda   runs a Lambda bootstrap under the tool's own Runtime API server, serves it one
//	         CloudFormation event whose ResponseURL points back at the tool, and reports
//	         exec-to-first-poll, invocation-to-response and exec-to-response times, the
//	         process's rusage (CPU, peak RSS) and the peak bytes it wrote under /tmp.
//	exec     runs a command (skopeo) to completion with the same measurements.
//	image    generates a test image (deterministic random layers, gzip) into a cache folder
//	         and optionally pushes it to a registry or writes a `docker save` tarball.
//	gzip     compresses layer-like corpora at each gzip level with the handler's compressor
//	         (see gzip.go): CPU seconds and compressed size per level.
//	floor    the least work any copier must do for a registry-to-registry copy (see floor.go):
//	         the reference that shows how much of a copier's time the registries take.
//
// Measured processes run in their own mount namespace with private tmpfs mounts on /tmp and
// /var/tmp (TMPDIR=/tmp): whatever they write there is counted by polling statfs through
// /proc/PID/root, and nothing another process writes is.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool lambda|exec|image|floor|gzip < spec.json")
		os.Exit(2)
	}
	if os.Args[1] == sandboxArg {
		sandboxChild(os.Args[2:]) // never returns
	}
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var out any
	switch os.Args[1] {
	case "lambda":
		var s LambdaSpec
		mustDecode(in, &s)
		out, err = runLambda(s)
	case "exec":
		var s ExecSpec
		mustDecode(in, &s)
		out, err = runExec(s)
	case "image":
		var s ImageSpec
		mustDecode(in, &s)
		out, err = runImage(s)
	case "gzip":
		var s GzipSpec
		mustDecode(in, &s)
		out, err = runGzip(s)
	case "floor":
		var s FloorSpec
		mustDecode(in, &s)
		out, err = runFloor(s)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}

func mustDecode(b []byte, v any) {
	if err := json.Unmarshal(b, v); err != nil {
		fail(fmt.Errorf("spec: %w", err))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchtool:", err)
	os.Exit(1)
}
