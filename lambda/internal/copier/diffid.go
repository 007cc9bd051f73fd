package copier

// The diff_id check of a layer stored compressed in a classic docker save archive (hand-made
// archives gzip layer.tar). s3archive names such a layer by the digest of its own bytes, so the
// registry's check at commit only says the file was read as it is; whether it is the tar the
// config's diff_id names needs it decompressed. The layer goes to the registry as stored
// while a second goroutine decompresses the same bytes and hashes the tar: one pass over the
// compressed bytes, which the registry hashes, and one over the tar, which the copier hashes.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/compression"

	"github.com/cdk-ecr-deployment/handler/internal/crash"
	"github.com/cdk-ecr-deployment/handler/internal/errs"
)

// errUploadEnded stops the diff_id check of a layer whose upload ended before its last byte
// (the destination had the blob, or the upload failed): there is nothing left to check.
var errUploadEnded = errors.New("the upload ended")

// layerDiffIDs maps each layer of the image manifest mb to the diff_id config lists for it.
func layerDiffIDs(mb []byte, mime string, config []byte) (map[digest.Digest]digest.Digest, error) {
	m, err := manifest.FromBlob(mb, mime)
	if err != nil {
		return nil, err
	}
	var parsed struct {
		RootFS struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(config, &parsed); err != nil {
		return nil, fmt.Errorf("%w: parsing the config: %v", errs.ErrCorruptArchive, err)
	}
	layers := m.LayerInfos()
	if len(layers) != len(parsed.RootFS.DiffIDs) {
		return nil, fmt.Errorf("%w: the config lists %d diff_ids for %d layers", errs.ErrCorruptArchive, len(parsed.RootFS.DiffIDs), len(layers))
	}
	out := make(map[digest.Digest]digest.Digest, len(layers))
	for i, l := range layers {
		out[l.Digest] = parsed.RootFS.DiffIDs[i]
	}
	return out, nil
}

// diffIDReader reads a compressed layer unchanged, for the upload, while its bytes are
// decompressed and hashed against diffID on another goroutine. Its last Read answers the
// check: io.EOF when the tar is the one diffID names, else the check's error, so a damaged
// layer fails the upload before the registry is asked to commit it.
type diffIDReader struct {
	r      io.Reader
	pw     *io.PipeWriter
	result chan error // the check's answer, sent once
	// failed is the check's error, once a Read has returned it.
	failed error
	closed bool
}

// newDiffIDReader starts the check of r's decompressed bytes against diffID; bad makes the
// error of a layer that fails it. The caller closes the reader.
func newDiffIDReader(r io.Reader, decompress compression.DecompressorFunc, diffID digest.Digest, bad func(why string) error) *diffIDReader {
	pr, pw := io.Pipe()
	d := &diffIDReader{r: r, pw: pw, result: make(chan error, 1)}
	go func() {
		var err error
		defer func() { d.result <- err }()
		defer crash.Recover(&err, "checking the diff_id "+diffID.String())
		err = checkDiffID(pr, decompress, diffID, bad)
		if err != nil {
			// The upload's next Write gets the error: no reason to read on.
			_ = pr.CloseWithError(err)
			return
		}
		// Bytes after the compressed stream (padding) are the upload's, not the tar's.
		_, _ = io.Copy(io.Discard, pr)
	}()
	return d
}

// checkDiffID decompresses r and compares the digest of the tar with diffID.
func checkDiffID(r io.Reader, decompress compression.DecompressorFunc, diffID digest.Digest, bad func(string) error) error {
	zr, err := decompress(r)
	if err != nil {
		return bad(fmt.Sprintf("it does not decompress: %v", err))
	}
	defer zr.Close()
	verifier := diffID.Verifier()
	if _, err := io.Copy(verifier, zr); err != nil {
		if errors.Is(err, errUploadEnded) {
			return err
		}
		return bad(fmt.Sprintf("it does not decompress: %v", err))
	}
	if !verifier.Verified() {
		return bad("its tar hashes to something else")
	}
	return nil
}

func (d *diffIDReader) Read(p []byte) (int, error) {
	if d.failed != nil {
		return 0, d.failed
	}
	n, err := d.r.Read(p)
	if n > 0 {
		if _, werr := d.pw.Write(p[:n]); werr != nil {
			d.failed = d.wait()
			return 0, d.failed
		}
	}
	if err == io.EOF {
		if cerr := d.wait(); cerr != nil {
			d.failed = cerr
			return n, cerr
		}
	}
	return n, err
}

// wait ends the decompressed side (a clean end of input) and returns the check's answer.
func (d *diffIDReader) wait() error {
	if d.closed {
		return d.failed
	}
	d.closed = true
	_ = d.pw.Close()
	return <-d.result
}

// Close stops a check the upload did not read to the end.
func (d *diffIDReader) Close() error {
	if !d.closed {
		d.closed = true
		_ = d.pw.CloseWithError(errUploadEnded)
		<-d.result
	}
	return nil
}
