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

	"github.com/klauspost/compress/zstd"
)

// LayoutImage is one image of an OCI image-layout archive as `docker save` (Docker 25 and
// later, containerd image store) writes it: index.json names an image index holding one image
// manifest per platform and, with Attest, a BuildKit attestation manifest per platform
// (platform unknown/unknown, one in-toto layer); manifest.json (the legacy list) names the
// first platform's image.
type LayoutImage struct {
	// Name goes in index.json as io.containerd.image.name, and its tag as
	// org.opencontainers.image.ref.name (both as Docker writes them); "" writes neither.
	Name string
	// RepoTags go in manifest.json.
	RepoTags []string
	// Platforms are architectures (linux/ARCH); empty means amd64.
	Platforms  []string
	LayerSizes []int
	// Compression of the layers: "gzip" (the default), "zstd" or "none".
	Compression string
	Attest      bool
	// Single makes index.json name the image manifest of the first platform directly (as the
	// classic image store and skopeo's oci-archive do), with no index in between.
	Single bool
	Seed   uint64
}

// LayoutDigests are the digests of one image of a layout archive.
type LayoutDigests struct {
	Top          string            // what index.json names: the index, or the manifest (Single)
	Manifests    map[string]string // image manifest digest by architecture
	Configs      map[string]string // config digest by architecture
	Attestations []string
}

// OCILayoutArchive builds a Docker 25+ style `docker save` tarball: oci-layout, index.json,
// blobs/sha256/..., and manifest.json.
func OCILayoutArchive(images ...LayoutImage) ([]byte, []LayoutDigests, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	written := map[string]bool{}
	blob := func(data []byte) (desc map[string]any, err error) {
		sum := sha256.Sum256(data)
		d := "sha256:" + hex.EncodeToString(sum[:])
		if !written[d] {
			written[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/" + hex.EncodeToString(sum[:]), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
				return nil, err
			}
			if _, err := tw.Write(data); err != nil {
				return nil, err
			}
		}
		return map[string]any{"digest": d, "size": len(data)}, nil
	}
	withType := func(desc map[string]any, mt string) map[string]any { desc["mediaType"] = mt; return desc }

	var index []map[string]any
	var items []saveItem
	var out []LayoutDigests
	for n, img := range images {
		rnd := rand.New(rand.NewPCG(img.Seed, uint64(n)))
		plats := img.Platforms
		if len(plats) == 0 {
			plats = []string{"amd64"}
		}
		ld := LayoutDigests{Manifests: map[string]string{}, Configs: map[string]string{}}
		var kids []map[string]any
		for pi, arch := range plats {
			var diffIDs []string
			var layers []map[string]any
			var layerPaths []string
			for i, size := range img.LayerSizes {
				data, diffID := randomLayer(rnd, fmt.Sprintf("%s-file%d", arch, i), size)
				diffIDs = append(diffIDs, diffID)
				mt := "application/vnd.oci.image.layer.v1.tar"
				switch img.Compression {
				case "", "gzip":
					var z bytes.Buffer
					zw := gzip.NewWriter(&z)
					_, _ = zw.Write(data)
					_ = zw.Close()
					data, mt = z.Bytes(), mt+"+gzip"
				case "zstd":
					var z bytes.Buffer
					zw, err := zstd.NewWriter(&z)
					if err != nil {
						return nil, nil, err
					}
					_, _ = zw.Write(data)
					_ = zw.Close()
					data, mt = z.Bytes(), mt+"+zstd"
				case "none":
				default:
					return nil, nil, fmt.Errorf("unknown compression %q", img.Compression)
				}
				d, err := blob(data)
				if err != nil {
					return nil, nil, err
				}
				layers = append(layers, withType(d, mt))
				layerPaths = append(layerPaths, "blobs/sha256/"+d["digest"].(string)[7:])
			}
			cfg, _ := json.Marshal(map[string]any{
				"architecture": arch, "os": "linux", "config": map[string]any{"Cmd": []string{"/bin/sh"}},
				"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
			})
			cd, err := blob(cfg)
			if err != nil {
				return nil, nil, err
			}
			ld.Configs[arch] = cd["digest"].(string)
			m, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
				"config": withType(cd, "application/vnd.oci.image.config.v1+json"), "layers": layers})
			md, err := blob(m)
			if err != nil {
				return nil, nil, err
			}
			ld.Manifests[arch] = md["digest"].(string)
			kid := withType(md, "application/vnd.oci.image.manifest.v1+json")
			kid["platform"] = map[string]any{"architecture": arch, "os": "linux"}
			kids = append(kids, kid)
			if pi == 0 {
				items = append(items, saveItem{Config: "blobs/sha256/" + ld.Configs[arch][7:], RepoTags: img.RepoTags, Layers: layerPaths})
			}
			if img.Attest {
				stmt, _ := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v0.1",
					"predicateType": "https://spdx.dev/Document", "subject": []map[string]any{{"digest": map[string]string{"sha256": ld.Manifests[arch][7:]}}}})
				sd, err := blob(stmt)
				if err != nil {
					return nil, nil, err
				}
				sd = withType(sd, "application/vnd.in-toto+json")
				sd["annotations"] = map[string]string{"in-toto.io/predicate-type": "https://spdx.dev/Document"}
				acfg, _ := json.Marshal(map[string]any{"architecture": "unknown", "os": "unknown", "config": map[string]any{},
					"rootfs": map[string]any{"type": "layers", "diff_ids": []string{sd["digest"].(string)}}})
				acd, err := blob(acfg)
				if err != nil {
					return nil, nil, err
				}
				am, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
					"config": withType(acd, "application/vnd.oci.image.config.v1+json"), "layers": []any{sd}})
				amd, err := blob(am)
				if err != nil {
					return nil, nil, err
				}
				ld.Attestations = append(ld.Attestations, amd["digest"].(string))
				ak := withType(amd, "application/vnd.oci.image.manifest.v1+json")
				ak["platform"] = map[string]any{"architecture": "unknown", "os": "unknown"}
				ak["annotations"] = map[string]string{"vnd.docker.reference.digest": ld.Manifests[arch], "vnd.docker.reference.type": "attestation-manifest"}
				kids = append(kids, ak)
			}
		}
		var top map[string]any
		if img.Single {
			top = kids[0]
			delete(top, "platform")
		} else {
			idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": kids})
			d, err := blob(idx)
			if err != nil {
				return nil, nil, err
			}
			top = withType(d, "application/vnd.oci.image.index.v1+json")
		}
		ld.Top = top["digest"].(string)
		if img.Name != "" {
			top["annotations"] = map[string]string{"io.containerd.image.name": img.Name, "org.opencontainers.image.ref.name": lastTag(img.Name)}
		}
		index = append(index, top)
		out = append(out, ld)
	}
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	ij, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index})
	mj, _ := json.Marshal(items)
	for _, f := range []struct {
		name string
		data []byte
	}{{"index.json", ij}, {"manifest.json", mj}, {"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)}} {
		if err := add(f.name, f.data); err != nil {
			return nil, nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), out, nil
}

// lastTag is the tag of name (after the last ':' that follows the last '/').
func lastTag(name string) string {
	for i := len(name) - 1; i >= 0 && name[i] != '/'; i-- {
		if name[i] == ':' {
			return name[i+1:]
		}
	}
	return ""
}
