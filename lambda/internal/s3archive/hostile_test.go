package s3archive

// Hostile docker save archives in S3 (moto), opened through the real path
// (Transport.ParseReference, NewImageSource: HeadObject, ranged GETs, indexing, manifest.json,
// config, layers): each gives a clear error wrapping errs.ErrCorruptArchive, allocates a
// bounded amount of memory and writes nothing to disk.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/manifest"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// hostileEntry is one tar entry of a hand-made archive.
type hostileEntry struct {
	name     string
	typ      byte
	body     []byte
	linkname string
	size     int64 // when > 0, the header claims this size; the body is not written and the archive ends
}

func hostileTar(t *testing.T, entries ...hostileEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Linkname: e.linkname, Size: int64(len(e.body))}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if e.size > 0 {
			h.Size = e.size
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			_ = tw.Flush()
			return buf.Bytes() // the claimed body never comes
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// image is a valid one-layer image: its manifest.json, config and layer, named as the
// legacy layout does (c.json, l/layer.tar).
func hostileImage(layer []byte) (mj, config []byte) {
	config, _ = json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digest.FromBytes(layer).String()}}})
	mj, _ = json.Marshal([]map[string]any{{"Config": "c.json", "RepoTags": []string{"app:latest"}, "Layers": []string{"l/layer.tar"}}})
	return mj, config
}

// hostileCase is one archive and what opening it must say.
type hostileCase struct {
	name    string
	archive []byte
	want    string // in the error; "" means the archive must open
	// heap bounds the bytes allocated while opening (and reading every blob).
	heap uint64
	// check runs on the opened source.
	check func(t *testing.T, src *source)
}

const defaultHeapLimit = 32 << 20

func TestHostileArchives(t *testing.T) {
	layer := bytes.Repeat([]byte("layer data "), 100)
	mj, config := hostileImage(layer)
	valid := []hostileEntry{{name: "manifest.json", body: mj}, {name: "c.json", body: config}, {name: "l/layer.tar", body: layer}}
	whole := hostileTar(t, valid...)

	// A layer that inflates to 256 MiB (a gzip bomb), stored under a legacy name, so that
	// opening hashes it (its compressed bytes).
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 256 {
		_, _ = zw.Write(zeros)
	}
	_ = zw.Close()
	bmj, bconfig := hostileImage([]byte("the diff_id of an uncompressed tar"))
	bigManifest := append(append([]byte("["), bytes.Repeat([]byte(" "), maxManifestJSON)...), ']')
	bigConfig := append(append([]byte(`{"rootfs":{"diff_ids":[]},"x":"`), bytes.Repeat([]byte("x"), maxConfig)...), `"}`...)

	cases := []hostileCase{
		{name: "valid (control)", archive: whole, check: func(t *testing.T, src *source) {
			if len(src.layers) != 1 {
				t.Errorf("%d layers", len(src.layers))
			}
		}},
		// Truncated tars.
		{name: "truncated in a layer body", archive: whole[:len(whole)-1024-len(layer)/2], want: "not a readable tar archive"},
		{name: "truncated in a header", archive: whole[:1024+100], want: "not a readable tar archive"},
		{name: "truncated after the first header", archive: whole[:512], want: "not a readable tar archive"},
		{name: "only the end-of-archive blocks", archive: make([]byte, 1024), want: "the archive holds no files"},
		{name: "not a tar", archive: bytes.Repeat([]byte("garbage!"), 300), want: "not a readable tar archive"},
		// Duplicate entries.
		{name: "manifest.json twice", archive: hostileTar(t, append(valid, hostileEntry{name: "manifest.json", body: []byte(`[]`)})...),
			want: `entry "manifest.json" appears more than once`},
		{name: "a layer twice, once as ./", archive: hostileTar(t, append(valid, hostileEntry{name: "./l/layer.tar", body: []byte("other")})...),
			want: `entry "./l/layer.tar" appears more than once`},
		{name: "a file and a link of one name", archive: hostileTar(t, append(valid, hostileEntry{name: "c.json", typ: tar.TypeSymlink, linkname: "l/layer.tar"})...),
			want: `entry "c.json" appears more than once`},
		// Paths escaping the archive.
		{name: "entry ../manifest.json", archive: hostileTar(t, hostileEntry{name: "../manifest.json", body: mj}, valid[1], valid[2]),
			want: `entry "../manifest.json" points outside the archive`},
		{name: "entry a/../../etc/passwd", archive: hostileTar(t, append(valid, hostileEntry{name: "a/../../etc/passwd", body: []byte("x")})...),
			want: `entry "a/../../etc/passwd" points outside the archive`},
		{name: "absolute entry /manifest.json", archive: hostileTar(t, hostileEntry{name: "/manifest.json", body: mj}, valid[1], valid[2]),
			want: `entry "/manifest.json" points outside the archive`},
		{name: "symlink to ../../etc/passwd", archive: hostileTar(t, valid[0], valid[1], hostileEntry{name: "l/layer.tar", typ: tar.TypeSymlink, linkname: "../../etc/passwd"}),
			want: `symbolic link "l/layer.tar" -> "../../etc/passwd" points outside the archive`},
		{name: "symlink to /etc/passwd", archive: hostileTar(t, valid[0], valid[1], hostileEntry{name: "l/layer.tar", typ: tar.TypeSymlink, linkname: "/etc/passwd"}),
			want: `symbolic link "l/layer.tar" -> "/etc/passwd" points outside the archive`},
		{name: "hard link to /etc/shadow", archive: hostileTar(t, valid[0], valid[1], hostileEntry{name: "l/layer.tar", typ: tar.TypeLink, linkname: "/etc/shadow"}),
			want: `hard link "l/layer.tar" -> "/etc/shadow" points outside the archive`},
		{name: "manifest.json naming ../../etc/passwd", archive: hostileTar(t,
			hostileEntry{name: "manifest.json", body: []byte(`[{"Config":"c.json","Layers":["../../etc/passwd"]}]`)}, valid[1], valid[2]),
			want: `manifest.json entry 0 names "../../etc/passwd", outside the archive`},
		{name: "manifest.json naming /c.json", archive: hostileTar(t,
			hostileEntry{name: "manifest.json", body: []byte(`[{"Config":"/c.json","Layers":["l/layer.tar"]}]`)}, valid[1], valid[2]),
			want: `manifest.json entry 0 names "/c.json", outside the archive`},
		// Absurd header sizes.
		{name: "a header claiming 1 TB", archive: hostileTar(t, valid[0], valid[1], hostileEntry{name: "l/layer.tar", size: 1 << 40}),
			want: "not a readable tar archive"},
		{name: "a header claiming 2^63-1000 bytes", archive: hostileTar(t, valid[0], valid[1], hostileEntry{name: "l/layer.tar", size: 1<<63 - 1000}),
			want: "not a readable tar archive"},
		{name: "manifest.json over its limit", archive: hostileTar(t, hostileEntry{name: "manifest.json", body: bigManifest}, valid[1], valid[2]),
			want: fmt.Sprintf(`"manifest.json" is %d bytes, more than the %d allowed`, len(bigManifest), maxManifestJSON), heap: 24 << 20},
		{name: "config over its limit", archive: hostileTar(t, valid[0], hostileEntry{name: "c.json", body: bigConfig}, valid[2]),
			want: fmt.Sprintf(`"c.json" is %d bytes, more than the %d allowed`, len(bigConfig), maxConfig), heap: 24 << 20},
		// A gzip bomb: never inflated, served as stored.
		{name: "gzip bomb layer (256 MiB inflated)", archive: hostileTar(t, hostileEntry{name: "manifest.json", body: bmj},
			hostileEntry{name: "c.json", body: bconfig}, hostileEntry{name: "l/layer.tar", body: bomb.Bytes()}),
			check: func(t *testing.T, src *source) {
				mb, mt, _ := src.GetManifest(context.Background(), nil)
				m, err := manifest.FromBlob(mb, mt)
				if err != nil {
					t.Fatal(err)
				}
				l := m.LayerInfos()[0]
				if l.Size != int64(bomb.Len()) || l.Digest != digest.FromBytes(bomb.Bytes()) {
					t.Errorf("layer %s of %d bytes, want the compressed %d bytes", l.Digest, l.Size, bomb.Len())
				}
				rc, _, err := src.GetBlob(context.Background(), l.BlobInfo, nil)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(rc)
				rc.Close()
				if !bytes.Equal(got, bomb.Bytes()) {
					t.Errorf("the layer was not served as stored: %d bytes", len(got))
				}
			}},
		// A manifest naming what is not there.
		{name: "missing layer", archive: hostileTar(t, valid[0], valid[1]), want: `"l/layer.tar" is missing from the archive`},
		{name: "missing config", archive: hostileTar(t, valid[0], valid[2]), want: `"c.json" is missing from the archive`},
		{name: "no manifest.json", archive: hostileTar(t, valid[1], valid[2]), want: "no manifest.json"},
		{name: "manifest.json is a directory", archive: hostileTar(t, hostileEntry{name: "manifest.json", typ: tar.TypeDir}, valid[1], valid[2]),
			want: "no manifest.json"},
		{name: "layer is a dangling symlink", archive: hostileTar(t, valid[0], valid[1], hostileEntry{name: "l/layer.tar", typ: tar.TypeSymlink, linkname: "nowhere"}),
			want: `"l/layer.tar" is missing from the archive`},
		{name: "symlink loop", archive: hostileTar(t, valid[0], valid[1], hostileEntry{name: "l/layer.tar", typ: tar.TypeSymlink, linkname: "a"},
			hostileEntry{name: "l/a", typ: tar.TypeSymlink, linkname: "layer.tar"}), want: "too many levels of links"},
		{name: "layer is a device", archive: hostileTar(t, valid[0], valid[1], hostileEntry{name: "l/layer.tar", typ: tar.TypeChar}),
			want: `"l/layer.tar" is missing from the archive`},
		{name: "manifest.json not JSON", archive: hostileTar(t, hostileEntry{name: "manifest.json", body: []byte("{")}, valid[1], valid[2]),
			want: "manifest.json: unexpected end of JSON input"},
		{name: "manifest.json lists no image", archive: hostileTar(t, hostileEntry{name: "manifest.json", body: []byte("[]")}, valid[1], valid[2]),
			want: "manifest.json lists no images"},
		{name: "more layers than diff_ids", archive: hostileTar(t,
			hostileEntry{name: "manifest.json", body: []byte(`[{"Config":"c.json","Layers":["l/layer.tar","l/layer.tar"]}]`)}, valid[1], valid[2]),
			want: "manifest.json lists 2 layers, the config 1"},
	}

	// One bucket for all the cases, uploaded before any measurement.
	objects := map[string][]byte{}
	for i, c := range cases {
		objects[fmt.Sprintf("case-%02d.tar", i)] = c.archive
	}
	api := setup(t, "hostile", objects)

	// Nothing may be written to disk: temporary files and the home directory (caches) go
	// to empty directories that must stay empty.
	tmp, home := t.TempDir(), t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", home+"/.cache")

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			limit := c.heap
			if limit == 0 {
				limit = defaultHeapLimit
			}
			key := fmt.Sprintf("case-%02d.tar", i)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			is, err := open(t, api, "//hostile/"+key)
			if err == nil && c.check != nil {
				c.check(t, is.(*source))
			}
			if is != nil {
				is.Close()
			}
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			runtime.GC()
			var settled runtime.MemStats
			runtime.ReadMemStats(&settled)
			t.Logf("archive %d bytes; allocated %.1f MiB while opening (limit %.0f MiB); heap in use %+.1f MiB after; error: %v",
				len(c.archive), float64(allocated)/(1<<20), float64(limit)/(1<<20),
				(float64(settled.HeapInuse)-float64(before.HeapInuse))/(1<<20), err)
			if allocated > limit {
				t.Errorf("allocated %d bytes, limit %d", allocated, limit)
			}
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("a valid archive failed: %v", err)
			case c.want == "":
			case err == nil:
				t.Fatalf("opened; want an error with %q", c.want)
			case !errors.Is(err, errs.ErrCorruptArchive):
				t.Errorf("error does not wrap ErrCorruptArchive: %v", err)
			case !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "s3://hostile/"+key):
				t.Errorf("error %q does not say %q about s3://hostile/%s", err, c.want, key)
			}
			for _, dir := range []string{tmp, home} {
				if left, _ := os.ReadDir(dir); len(left) > 0 {
					t.Errorf("%s was written to: %v", dir, left)
				}
			}
		})
	}
}

// The real docker save layouts still open after the checks above (relative symlinks with
// ../ inside the archive are fine).
func TestHostileChecksKeepRealLayouts(t *testing.T) {
	for i, layout := range []string{"legacy", "oci", "oci-gzip"} {
		tarball, _, err := testenv.DockerSave(testenv.SaveImage{RepoTags: []string{"app:latest"}, LayerSizes: []int{2000, 10}, Layout: layout, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		bucket := fmt.Sprintf("hostile-real-%d", i)
		api := setup(t, bucket, map[string][]byte{"img.tar": tarball})
		src, err := open(t, api, "//"+bucket+"/img.tar")
		if err != nil {
			t.Fatalf("%s: %v", layout, err)
		}
		src.Close()
	}
}
