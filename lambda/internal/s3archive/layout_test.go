package s3archive

// OCI image-layout archives (Docker 25+ docker save, oci-archive) in S3 (moto): manifests and
// blobs are served byte for byte, so their digests are the archive's.

import (
	"context"
	"encoding/json"
	"errors"
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
