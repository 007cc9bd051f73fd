package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
)

// SaveImage describes one image of a `docker save` archive.
type SaveImage struct {
	RepoTags   []string
	LayerSizes []int // bytes of random file content per layer
	// Layout: "legacy" (<id>/layer.tar, docker < 25), "legacy-gzip" (the same with each
	// layer.tar gzipped, as hand-made archives have them), "oci" (blobs/sha256/... with
	// legacy symlinks, docker >= 25) or "oci-gzip" (compressed blobs, as the containerd
	// image store exports them).
	Layout string
	Seed   uint64
	// Text fills the layers with words instead of random bytes: content that compresses
	// (about 4:1 with gzip), as real layers do.
	Text bool
	// RandomLayers lists layers (by index) filled with random bytes even with Text: an image
	// whose layers gzip differently.
	RandomLayers []int
}

// DockerSave builds a docker-save tarball in memory and returns it with the
// config digest of each image.
func DockerSave(images ...SaveImage) ([]byte, []string, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	var items []saveItem
	var configs []string
	for n, img := range images {
		rnd := rand.New(rand.NewPCG(img.Seed, uint64(n)))
		var diffIDs []string
		var layerPaths []string
		for i, size := range img.LayerSizes {
			fill := randomBytes
			if img.Text && !slices.Contains(img.RandomLayers, i) {
				fill = words
			}
			layerTar, diffID := layer(rnd, fmt.Sprintf("file%d", i), size, fill)
			diffIDs = append(diffIDs, diffID)
			id := fmt.Sprintf("%064x", rnd.Uint64())
			switch img.Layout {
			case "legacy", "legacy-gzip":
				if err := tw.WriteHeader(&tar.Header{Name: id + "/", Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
					return nil, nil, err
				}
				if err := add(id+"/VERSION", []byte("1.0")); err != nil {
					return nil, nil, err
				}
				if err := add(id+"/json", []byte(`{"id":"`+id+`"}`)); err != nil {
					return nil, nil, err
				}
				blob := layerTar
				if img.Layout == "legacy-gzip" {
					blob = gzipped(blob)
				}
				if err := add(id+"/layer.tar", blob); err != nil {
					return nil, nil, err
				}
				layerPaths = append(layerPaths, id+"/layer.tar")
			default:
				blob := layerTar
				if img.Layout == "oci-gzip" {
					blob = gzipped(blob)
				}
				bs := sha256.Sum256(blob)
				p := "blobs/sha256/" + hex.EncodeToString(bs[:])
				if err := add(p, blob); err != nil {
					return nil, nil, err
				}
				if err := tw.WriteHeader(&tar.Header{Name: id + "/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../" + p}); err != nil {
					return nil, nil, err
				}
				// manifest.json names the legacy path, which is a symlink.
				layerPaths = append(layerPaths, id+"/layer.tar")
			}
		}
		cfg, _ := json.Marshal(map[string]any{
			"architecture": "amd64", "os": "linux", "config": map[string]any{"Cmd": []string{"/bin/sh"}},
			"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
		})
		cs := sha256.Sum256(cfg)
		cfgName := hex.EncodeToString(cs[:]) + ".json"
		if img.Layout != "legacy" && img.Layout != "legacy-gzip" {
			cfgName = "blobs/sha256/" + hex.EncodeToString(cs[:])
		}
		if err := add(cfgName, cfg); err != nil {
			return nil, nil, err
		}
		configs = append(configs, "sha256:"+hex.EncodeToString(cs[:]))
		items = append(items, saveItem{Config: cfgName, RepoTags: img.RepoTags, Layers: layerPaths})
	}
	mj, _ := json.Marshal(items)
	if err := add("manifest.json", mj); err != nil {
		return nil, nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), configs, nil
}

func gzipped(b []byte) []byte {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return gz.Bytes()
}
