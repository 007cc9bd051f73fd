package testenv

// What the docker save writers (dockersave.go: every layout Docker has written; ocilayout.go:
// Docker 25+ with indexes and attestations) share.

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// saveItem is one entry of a docker save archive's manifest.json.
type saveItem struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// randomLayer is an uncompressed layer tar holding one file of size random bytes, and its
// diff ID.
func randomLayer(rnd *rand.Rand, name string, size int) ([]byte, string) {
	return layer(rnd, name, size, randomBytes)
}

func randomBytes(rnd *rand.Rand, b []byte) {
	for j := range b {
		b[j] = byte(rnd.UintN(256))
	}
}

// words fills b with words of a small vocabulary, separated by spaces and newlines.
func words(rnd *rand.Rand, b []byte) {
	vocab := []string{"layer", "image", "manifest", "digest", "registry", "config", "blob", "tag", "index", "push", "pull", "copy", "lambda", "stack"}
	for j := 0; j < len(b); {
		w := vocab[rnd.IntN(len(vocab))]
		j += copy(b[j:], w)
		if j < len(b) {
			b[j] = " \n"[rnd.IntN(2)]
			j++
		}
	}
}

// layer is an uncompressed layer tar holding one file of size bytes written by fill, and its
// diff ID.
func layer(rnd *rand.Rand, name string, size int, fill func(*rand.Rand, []byte)) ([]byte, string) {
	content := make([]byte, size)
	fill(rnd, content)
	var lt bytes.Buffer
	ltw := tar.NewWriter(&lt)
	_ = ltw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(size)})
	_, _ = ltw.Write(content)
	_ = ltw.Close()
	sum := sha256.Sum256(lt.Bytes())
	return lt.Bytes(), "sha256:" + hex.EncodeToString(sum[:])
}

// TarFiles reads a tarball whole: every entry's bytes by name (a leading "./", which skopeo
// writes, removed).
func TarFiles(t testing.TB, tarball []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(tarball))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(h.Name, "./")] = b
	}
}

// FlipByte is tarball with one byte in the middle of member (a file's contents in it) flipped:
// an archive of the same size whose member no longer matches its digest.
func FlipByte(tarball, member []byte) []byte {
	b := bytes.Clone(tarball)
	b[bytes.Index(tarball, member)+len(member)/2] ^= 0xff
	return b
}
