package s3archive

// OCI image-layout archives (Docker 25+ docker save, oci-archive) in S3 (moto): manifests and
// blobs are served byte for byte, so their digests are the archive's.

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
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// readAll reads a blob through the source, failing the test on an error.
func readBlob(t *testing.T, src types.ImageSource, d digest.Digest, size int64) []byte {
	t.Helper()
	rc, n, err := src.GetBlob(context.Background(), types.BlobInfo{Digest: d, Size: size}, nil)
	if err != nil {
		t.Fatalf("blob %s: %v", d, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("blob %s: %v", d, err)
	}
	if int64(len(b)) != n {
		t.Errorf("blob %s: %d bytes, GetBlob said %d", d, len(b), n)
	}
	return b
}

// checkImage checks that the manifest m (by digest) and every blob it names come out with
// their digests, and returns the media types of its config and layers.
func checkImage(t *testing.T, src types.ImageSource, d digest.Digest) []string {
	t.Helper()
	mb, mt, err := src.GetManifest(context.Background(), &d)
	if err != nil {
		t.Fatal(err)
	}
	if got := digest.FromBytes(mb); got != d {
		t.Fatalf("manifest %s came out as %s", d, got)
	}
	m, err := manifest.FromBlob(mb, mt)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, b := range append([]manifest.LayerInfo{{BlobInfo: m.ConfigInfo()}}, m.LayerInfos()...) {
		if got := digest.FromBytes(readBlob(t, src, b.Digest, b.Size)); got != b.Digest {
			t.Errorf("blob %s came out as %s", b.Digest, got)
		}
		if b.MediaType != "" {
			types = append(types, b.MediaType)
		}
	}
	return types
}

func TestDocker25ArchiveKeepsDigests(t *testing.T) {
	tarball, dg, err := testenv.OCILayoutArchive(testenv.LayoutImage{
		Name: "docker.io/library/app:latest", RepoTags: []string{"app:latest"}, Platforms: []string{"amd64", "arm64"},
		LayerSizes: []int{200 << 10, 1 << 10}, Attest: true, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	api := setup(t, "docker25", map[string][]byte{"app.tar": tarball})
	for _, ref := range []string{"", ":app:latest", ":docker.io/library/app:latest", ":@0"} {
		t.Run("ref"+ref, func(t *testing.T) {
			src, err := open(t, api, "//docker25/app.tar"+ref)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			top, mt, err := src.GetManifest(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if digest.FromBytes(top).String() != dg[0].Top || mt != imgspecv1.MediaTypeImageIndex {
				t.Fatalf("top manifest %s (%s), want the index %s as stored", digest.FromBytes(top), mt, dg[0].Top)
			}
			list, err := manifest.ListFromBlob(top, mt)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(list.Instances()); n != 4 {
				t.Errorf("the index has %d manifests, want 2 images and 2 attestations", n)
			}
			for _, arch := range []string{"amd64", "arm64"} {
				checkImage(t, src, digest.Digest(dg[0].Manifests[arch]))
			}
			for _, a := range dg[0].Attestations {
				if lt := checkImage(t, src, digest.Digest(a)); len(lt) != 2 || lt[1] != "application/vnd.in-toto+json" {
					t.Errorf("attestation %s has layers %v", a, lt)
				}
			}
			other := digest.FromString("not in the archive")
			if _, _, err := src.GetManifest(context.Background(), &other); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("a manifest the index does not name: %v", err)
			}
		})
	}
}

// Picking one image of several follows the classic archives' rules: name:tag (from index.json,
// or manifest.json's RepoTags), @N, or the only image.
func TestLayoutArchiveRefs(t *testing.T) {
	tarball, dg, err := testenv.OCILayoutArchive(
		testenv.LayoutImage{Name: "docker.io/library/one:v1", RepoTags: []string{"one:v1"}, LayerSizes: []int{1000}, Seed: 1},
		testenv.LayoutImage{Name: "example.com/two:v2", RepoTags: []string{"example.com/two:v2"}, LayerSizes: []int{1000}, Seed: 2, Single: true},
		// Only manifest.json names this one.
		testenv.LayoutImage{RepoTags: []string{"three:v3"}, Platforms: []string{"arm64", "amd64"}, LayerSizes: []int{1000}, Seed: 3},
	)
	if err != nil {
		t.Fatal(err)
	}
	api := setup(t, "layout-refs", map[string][]byte{"many.tar": tarball})
	for ref, want := range map[string]string{
		"one:v1": dg[0].Top, "docker.io/library/one:v1": dg[0].Top, "example.com/two:v2": dg[1].Top, "@1": dg[1].Top,
		"three:v3": dg[2].Top, "@2": dg[2].Top,
	} {
		src, err := open(t, api, "//layout-refs/many.tar:"+ref)
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		mb, _, _ := src.GetManifest(context.Background(), nil)
		if got := digest.FromBytes(mb).String(); got != want {
			t.Errorf("%s picked %s, want %s", ref, got, want)
		}
	}
	if _, err := open(t, api, "//layout-refs/many.tar"); !errors.Is(err, errs.ErrCorruptArchive) || !strings.Contains(err.Error(), "holds 3 images") {
		t.Errorf("no ref with 3 images: %v", err)
	}
	for _, ref := range []string{"four:v4", "@3"} {
		if _, err := open(t, api, "//layout-refs/many.tar:"+ref); !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), ref) {
			t.Errorf("unknown ref %s: %v", ref, err)
		}
	}
}

// zstd layers (application/vnd.oci.image.layer.v1.tar+zstd) and uncompressed ones are served as
// stored, never recompressed.
func TestLayoutLayersServedAsStored(t *testing.T) {
	for _, c := range []struct{ compression, mediaType string }{
		{"zstd", imgspecv1.MediaTypeImageLayerZstd}, {"none", imgspecv1.MediaTypeImageLayer}, {"gzip", imgspecv1.MediaTypeImageLayerGzip},
	} {
		t.Run(c.compression, func(t *testing.T) {
			tarball, dg, err := testenv.OCILayoutArchive(testenv.LayoutImage{Name: "docker.io/library/z:1", LayerSizes: []int{300 << 10, 100},
				Compression: c.compression, Single: true, Seed: 5})
			if err != nil {
				t.Fatal(err)
			}
			bucket := "stored-" + c.compression
			api := setup(t, bucket, map[string][]byte{"z.tar": tarball})
			src, err := open(t, api, "//"+bucket+"/z.tar")
			if err != nil {
				t.Fatal(err)
			}
			mb, mt, _ := src.GetManifest(context.Background(), nil)
			if digest.FromBytes(mb).String() != dg[0].Top || mt != imgspecv1.MediaTypeImageManifest {
				t.Fatalf("manifest %s (%s), want %s as stored", digest.FromBytes(mb), mt, dg[0].Top)
			}
			lt := checkImage(t, src, digest.Digest(dg[0].Top))
			if len(lt) != 3 || lt[1] != c.mediaType || lt[2] != c.mediaType {
				t.Errorf("media types %v, want layers of %s", lt, c.mediaType)
			}
			if !KeepsDigests(src.Reference()) {
				t.Error("KeepsDigests is false for a layout archive")
			}
		})
	}
}

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

// The archive is indexed once per Reference: planning and copy.Image both open the source.
func TestArchiveIndexedOncePerReference(t *testing.T) {
	tarball, _, err := testenv.DockerSave(testenv.SaveImage{RepoTags: []string{"app:latest"}, LayerSizes: []int{300 << 10, 200 << 10}, Layout: "oci-gzip", Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	api := setup(t, "once", map[string][]byte{"img.tar": tarball})
	ref, err := Transport{Clients: func(context.Context, string) (API, error) { return api, nil }}.ParseReference("//once/img.tar")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ref.NewImageSource(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	heads, gets := api.heads.Load(), api.gets.Load()
	if heads == 0 || gets == 0 {
		t.Fatalf("opening made %d HEADs and %d GETs", heads, gets)
	}
	if _, err := ref.NewImageSource(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if h, g := api.heads.Load()-heads, api.gets.Load()-gets; h != 0 || g != 0 {
		t.Errorf("opening the same reference again made %d HEADs and %d GETs, want none", h, g)
	}
}

// One image saved under two names (docker save app:1 app:2) is one image: no ref is needed.
func TestLayoutArchiveOneImageTwoNames(t *testing.T) {
	tarball, dg, err := testenv.OCILayoutArchive(testenv.LayoutImage{Name: "docker.io/library/app:1", LayerSizes: []int{1000}, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	twice := retar(t, tarball, func(name string, data []byte) []byte {
		if name != "index.json" {
			return data
		}
		var idx map[string]any
		if err := json.Unmarshal(data, &idx); err != nil {
			t.Fatal(err)
		}
		second := map[string]any{}
		for k, v := range idx["manifests"].([]any)[0].(map[string]any) {
			second[k] = v
		}
		second["annotations"] = map[string]string{annotationImageName: "docker.io/library/app:2", annotationRefName: "2"}
		idx["manifests"] = append(idx["manifests"].([]any), second)
		b, _ := json.Marshal(idx)
		return b
	})
	api := setup(t, "two-names", map[string][]byte{"app.tar": twice})
	for _, ref := range []string{"", ":app:1", ":app:2", ":@1"} {
		src, err := open(t, api, "//two-names/app.tar"+ref)
		if err != nil {
			t.Errorf("ref %q: %v", ref, err)
			continue
		}
		if mb, _, _ := src.GetManifest(context.Background(), nil); digest.FromBytes(mb).String() != dg[0].Top {
			t.Errorf("ref %q picked %s, want %s", ref, digest.FromBytes(mb), dg[0].Top)
		}
	}
}
