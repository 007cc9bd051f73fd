package main

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	mtOCIIndex    = "application/vnd.oci.image.index.v1+json"
	mtOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	mtOCIConfig   = "application/vnd.oci.image.config.v1+json"
	mtOCILayerGz  = "application/vnd.oci.image.layer.v1.tar+gzip"
	mtInToto      = "application/vnd.in-toto+json"
)

// Docker25 is the archive saveDocker25 wrote, and the digests a faithful copy keeps.
type Docker25 struct {
	Path string `json:"path"`
	// IndexDigest is the image as Docker 25+ (containerd image store) shows it: the index that
	// index.json points at. A copy with CopyImageIndex must arrive with this digest.
	IndexDigest string `json:"indexDigest"`
	// ImageDigest is the platform image manifest in that index; AttestationDigest the BuildKit
	// attestation manifest beside it.
	ImageDigest       string `json:"imageDigest"`
	AttestationDigest string `json:"attestationDigest"`
}

type blob struct {
	digest string
	data   []byte // nil: file
	file   string
	size   int64
}

func bytesBlob(b []byte) blob {
	h := sha256.Sum256(b)
	return blob{digest: "sha256:" + hex.EncodeToString(h[:]), data: b, size: int64(len(b))}
}

// saveDocker25 writes img in the layout `docker save` writes from Docker 25 on: an OCI image
// layout (oci-layout, index.json, blobs/sha256/...) whose index.json points at an image index
// holding the image manifest (OCI, gzip layers: the containerd image store keeps them
// compressed) and a BuildKit attestation manifest (platform unknown/unknown, one in-toto layer),
// plus the legacy manifest.json naming the same blobs. Written from the same generated layers
// as the classic archive, so both archive cases copy the same bytes.
func saveDocker25(img *ImageResult, path, repoTag string) (*Docker25, error) {
	config, err := os.ReadFile(filepath.Join(img.Dir, "config.json"))
	if err != nil {
		return nil, err
	}
	cfg := bytesBlob(config)
	var blobs []blob
	var layerDescs []map[string]any
	var layerNames []string
	for i, l := range img.Layers {
		blobs = append(blobs, blob{digest: l.Digest, file: filepath.Join(img.Dir, fmt.Sprintf("layer-%d.tar.gz", i)), size: l.Size})
		layerDescs = append(layerDescs, map[string]any{"mediaType": mtOCILayerGz, "digest": l.Digest, "size": l.Size})
		layerNames = append(layerNames, "blobs/sha256/"+l.Digest[7:])
	}
	blobs = append(blobs, cfg)
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mtOCIManifest,
		"config":        map[string]any{"mediaType": mtOCIConfig, "digest": cfg.digest, "size": cfg.size},
		"layers":        layerDescs,
	})
	man := bytesBlob(manifest)
	blobs = append(blobs, man)

	statement, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v0.1",
		"predicateType": "https://spdx.dev/Document",
		"subject": []map[string]any{{
			"name":   "pkg:docker/" + repoTag + "?platform=linux%2F" + img.Arch,
			"digest": map[string]string{"sha256": man.digest[7:]},
		}},
		"predicate": map[string]any{"spdxVersion": "SPDX-2.3", "name": "bench", "SPDXID": "SPDXRef-DOCUMENT"},
	})
	st := bytesBlob(statement)
	attConfig, _ := json.Marshal(map[string]any{
		"architecture": "unknown", "os": "unknown", "config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{st.digest}},
	})
	attCfg := bytesBlob(attConfig)
	attManifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mtOCIManifest,
		"config":        map[string]any{"mediaType": mtOCIConfig, "digest": attCfg.digest, "size": attCfg.size},
		"layers": []map[string]any{{"mediaType": mtInToto, "digest": st.digest, "size": st.size,
			"annotations": map[string]string{"in-toto.io/predicate-type": "https://spdx.dev/Document"}}},
	})
	att := bytesBlob(attManifest)
	blobs = append(blobs, st, attCfg, att)

	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mtOCIIndex,
		"manifests": []map[string]any{
			{"mediaType": mtOCIManifest, "digest": man.digest, "size": man.size, "platform": map[string]string{"architecture": img.Arch, "os": "linux"}},
			{"mediaType": mtOCIManifest, "digest": att.digest, "size": att.size, "platform": map[string]string{"architecture": "unknown", "os": "unknown"},
				"annotations": map[string]string{"vnd.docker.reference.digest": man.digest, "vnd.docker.reference.type": "attestation-manifest"}},
		},
	})
	idx := bytesBlob(index)
	blobs = append(blobs, idx)

	tag := repoTag[strings.LastIndex(repoTag, ":")+1:]
	indexJSON, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mtOCIIndex,
		"manifests": []map[string]any{{"mediaType": mtOCIIndex, "digest": idx.digest, "size": idx.size,
			"annotations": map[string]string{"io.containerd.image.name": "docker.io/" + repoTag, "org.opencontainers.image.ref.name": tag}}},
	})
	legacy, _ := json.Marshal([]map[string]any{{"Config": "blobs/sha256/" + cfg.digest[7:], "RepoTags": []string{repoTag}, "Layers": layerNames}})

	d := &Docker25{Path: path, IndexDigest: idx.digest, ImageDigest: man.digest, AttestationDigest: att.digest}
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return d, nil // same spec, same bytes
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(bw)
	mod := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, ModTime: mod}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	dirs := []string{"blobs/", "blobs/sha256/"}
	for _, dir := range dirs {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Mode: 0o755, Typeflag: tar.TypeDir, ModTime: mod}); err != nil {
			return nil, err
		}
	}
	for _, b := range blobs {
		name := "blobs/sha256/" + b.digest[7:]
		if b.data != nil {
			err = add(name, b.size, strings.NewReader(string(b.data)))
		} else {
			var in *os.File
			if in, err = os.Open(b.file); err == nil {
				err = add(name, b.size, in)
				in.Close()
			}
		}
		if err != nil {
			return nil, err
		}
	}
	for _, e := range []struct {
		name string
		data []byte
	}{{"index.json", indexJSON}, {"manifest.json", legacy}, {"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)}} {
		if err := add(e.name, int64(len(e.data)), strings.NewReader(string(e.data))); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, errors.Join(err, os.Remove(tmp))
	}
	return d, os.Rename(tmp, path)
}
