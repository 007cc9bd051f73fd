package testenv

// What the docker save writers (dockersave.go: every layout Docker has written; ocilayout.go:
// Docker 25+ with indexes and attestations) share.

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
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
	content := make([]byte, size)
	for j := range content {
		content[j] = byte(rnd.UintN(256))
	}
	var lt bytes.Buffer
	ltw := tar.NewWriter(&lt)
	_ = ltw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(size)})
	_, _ = ltw.Write(content)
	_ = ltw.Close()
	sum := sha256.Sum256(lt.Bytes())
	return lt.Bytes(), "sha256:" + hex.EncodeToString(sum[:])
}
