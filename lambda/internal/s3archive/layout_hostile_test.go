package s3archive

// Damaged and hostile OCI image-layout archives: each fails with ErrCorruptArchive, and no
// blob that does not match its digest is ever served.

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// retar rewrites a tarball's regular files through edit (nil drops the entry).
func retar(t *testing.T, tarball []byte, edit func(name string, data []byte) []byte) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(tarball))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if h.Typeflag == tar.TypeReg {
			if data = edit(h.Name, data); data == nil {
				continue
			}
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// editIndexJSON rewrites the first entry of index.json.
func editIndexJSON(t *testing.T, tarball []byte, edit func(d map[string]any)) []byte {
	return retar(t, tarball, func(name string, data []byte) []byte {
		if name != "index.json" {
			return data
		}
		var idx map[string]any
		if err := json.Unmarshal(data, &idx); err != nil {
			t.Fatal(err)
		}
		edit(idx["manifests"].([]any)[0].(map[string]any))
		b, _ := json.Marshal(idx)
		return b
	})
}

// Hostile layout archives fail cleanly with errs.ErrCorruptArchive, naming what is wrong.
func TestHostileLayoutArchives(t *testing.T) {
	tarball, dg, err := testenv.OCILayoutArchive(testenv.LayoutImage{Name: "docker.io/library/app:latest", LayerSizes: []int{100 << 10}, Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	var src0 []byte
	amd := strings.TrimPrefix(dg[0].Manifests["amd64"], "sha256:")
	_ = retar(t, tarball, func(name string, data []byte) []byte {
		if name == "blobs/sha256/"+amd {
			src0 = data
		}
		return data
	})
	var m imgspecv1.Manifest
	if err := json.Unmarshal(src0, &m); err != nil {
		t.Fatal(err)
	}
	layer := m.Layers[0]
	layerPath := "blobs/sha256/" + layer.Digest.Encoded()

	cases := []struct {
		name    string
		archive []byte
		want    string
		atBlob  bool // the archive opens; reading the layer fails
	}{
		{name: "a layer's bytes changed, same size", atBlob: true, want: fmt.Sprintf("%q does not match its digest", layerPath),
			archive: retar(t, tarball, func(name string, data []byte) []byte {
				if name == layerPath {
					data = bytes.Clone(data)
					data[len(data)/2] ^= 0xff
				}
				return data
			})},
		{name: "a layer missing", atBlob: true, want: fmt.Sprintf("%q is missing from the archive", layerPath),
			archive: retar(t, tarball, func(name string, data []byte) []byte {
				if name == layerPath {
					return nil
				}
				return data
			})},
		{name: "the image manifest's bytes changed", want: "does not match its digest",
			archive: retar(t, tarball, func(name string, data []byte) []byte {
				if name == "blobs/sha256/"+strings.TrimPrefix(dg[0].Top, "sha256:") {
					data = bytes.Replace(data, []byte(`"amd64"`), []byte(`"arm64"`), 1)
				}
				return data
			})},
		{name: "index.json names a digest that escapes", want: `invalid digest "sha256:../../../etc/passwd"`,
			archive: editIndexJSON(t, tarball, func(d map[string]any) { d["digest"] = "sha256:../../../etc/passwd" })},
		{name: "index.json names an unknown algorithm", want: "invalid digest",
			archive: editIndexJSON(t, tarball, func(d map[string]any) { d["digest"] = "md5:d41d8cd98f00b204e9800998ecf8427e" })},
		{name: "index.json claims an absurd size", want: "but its descriptor says 1099511627776",
			archive: editIndexJSON(t, tarball, func(d map[string]any) { d["size"] = 1 << 40 })},
		{name: "index.json names a missing manifest", want: "is missing from the archive",
			archive: editIndexJSON(t, tarball, func(d map[string]any) { d["digest"] = digest.FromString("nothing").String() })},
		{name: "index.json not JSON", want: "index.json: ",
			archive: retar(t, tarball, func(name string, data []byte) []byte {
				if name == "index.json" {
					return []byte("{")
				}
				return data
			})},
		{name: "index.json lists nothing", want: "index.json lists no images",
			archive: retar(t, tarball, func(name string, data []byte) []byte {
				if name == "index.json" {
					return []byte(`{"schemaVersion":2,"manifests":[]}`)
				}
				return data
			})},
		{name: "index.json over its limit", want: "more than the",
			archive: retar(t, tarball, func(name string, data []byte) []byte {
				if name == "index.json" {
					return append(append([]byte("{"), bytes.Repeat([]byte(" "), maxManifestJSON)...), '}')
				}
				return data
			})},
	}
	objects := map[string][]byte{}
	for i, c := range cases {
		objects[fmt.Sprintf("case-%02d.tar", i)] = c.archive
	}
	api := setup(t, "hostile-layout", objects)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := fmt.Sprintf("case-%02d.tar", i)
			src, err := open(t, api, "//hostile-layout/"+key)
			if c.atBlob {
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				var rc io.ReadCloser
				rc, _, err = src.GetBlob(context.Background(), types.BlobInfo{Digest: layer.Digest, Size: layer.Size}, nil)
				if err == nil {
					_, err = io.ReadAll(rc)
					rc.Close()
				}
			}
			switch {
			case err == nil:
				t.Fatalf("no error; want one with %q", c.want)
			case !errors.Is(err, errs.ErrCorruptArchive):
				t.Errorf("error does not wrap ErrCorruptArchive: %v", err)
			case !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "s3://hostile-layout/"+key):
				t.Errorf("error %q does not say %q about s3://hostile-layout/%s", err, c.want, key)
			}
		})
	}
}
