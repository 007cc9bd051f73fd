package copier

import (
	"fmt"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

func testManifest(mime, layerType string, urls bool) sourceManifest {
	cfg := digest.FromString("config")
	layer := fmt.Sprintf(`{"mediaType":%q,"size":3,"digest":%q}`, layerType, digest.FromString("layer"))
	if urls {
		layer = fmt.Sprintf(`{"mediaType":%q,"size":3,"digest":%q,"urls":["https://example.com/l"]}`, layerType, digest.FromString("layer"))
	}
	b := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":%q},"layers":[%s]}`,
		mime, cfg, layer))
	return sourceManifest{digest: digest.FromBytes(b), bytes: b, mime: mime}
}

// chooseEngine is pure: every case here is decided from the facts alone, with its reason.
func TestChooseEngine(t *testing.T) {
	img := testManifest(imgspecv1.MediaTypeImageManifest, imgspecv1.MediaTypeImageLayerGzip, false)
	index := sourceManifest{digest: digest.FromString("index"), bytes: []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`),
		mime: imgspecv1.MediaTypeImageIndex}
	foreign := testManifest(manifest.DockerV2Schema2MediaType, manifest.DockerV2Schema2ForeignLayerMediaTypeGzip, true)
	schema1 := sourceManifest{digest: digest.FromString("s1"), bytes: []byte(`{"schemaVersion":1}`), mime: manifest.DockerV2Schema1SignedMediaType}
	direct := engineFacts{keepsBytes: true, mode: modeSingle, top: img, images: []sourceManifest{img}}

	cases := []struct {
		name   string
		f      func(engineFacts) engineFacts
		engine engine
		reason string
	}{
		{"registry to registry", func(f engineFacts) engineFacts { return f }, engineDirect, "byte for byte"},
		{"neither a registry nor an archive", func(f engineFacts) engineFacts { f.keepsBytes = false; return f }, engineImage, "neither a registry nor an S3 archive"},
		{"classic archive source", func(f engineFacts) engineFacts { f.keepsBytes, f.built = false, true; return f }, engineBuilt, "stored where gzip would not shrink them"},
		{"classic archive, forced format", func(f engineFacts) engineFacts {
			f.keepsBytes, f.built, f.forceFormat = false, true, true
			return f
		}, engineImage, "DestManifestFormat"},
		{"classic archive, destination by digest", func(f engineFacts) engineFacts {
			f.keepsBytes, f.built, f.destByDigest = false, true, true
			return f
		}, engineImage, "by digest"},
		{"classic archive, destination does not take the type", func(f engineFacts) engineFacts {
			f.keepsBytes, f.built, f.accepted = false, true, []string{manifest.DockerV2Schema2MediaType}
			return f
		}, engineImage, "does not take"},
		{"forced format", func(f engineFacts) engineFacts { f.forceFormat = true; return f }, engineImage, "DestManifestFormat asks for a conversion"},
		{"destination by digest", func(f engineFacts) engineFacts { f.destByDigest = true; return f }, engineImage, "by digest"},
		{"foreign layers", func(f engineFacts) engineFacts { f.top, f.images = foreign, []sourceManifest{foreign}; return f }, engineImage, "foreign"},
		{"schema 1 child", func(f engineFacts) engineFacts {
			f.top, f.mode, f.images = index, modeImageIndex, []sourceManifest{img, schema1}
			return f
		}, engineImage, "not a Docker schema 2 or OCI image manifest"},
		{"destination does not take the type", func(f engineFacts) engineFacts {
			f.accepted = []string{manifest.DockerV2Schema2MediaType}
			return f
		}, engineImage, "does not take"},
		{"whole index", func(f engineFacts) engineFacts {
			f.top, f.mode, f.images = index, modeImageIndex, []sourceManifest{img}
			return f
		}, engineDirect, ""},
		{"filtered index", func(f engineFacts) engineFacts {
			f.top, f.mode, f.images = index, modeFiltered, []sourceManifest{img}
			return f
		}, engineDirectChildren, "filtered index"},
	}
	// A built image's layers may be stored only where the destination takes OCI manifests.
	built := direct
	built.keepsBytes, built.built, built.top.mime = false, true, manifest.DockerV2Schema2MediaType
	built.top = testManifest(manifest.DockerV2Schema2MediaType, manifest.DockerV2Schema2LayerMediaType, false)
	for _, accepted := range [][]string{nil, {manifest.DockerV2Schema2MediaType, imgspecv1.MediaTypeImageManifest}, {manifest.DockerV2Schema2MediaType}} {
		f := built
		f.accepted = accepted
		want := accepted == nil || len(accepted) == 2
		if ch := chooseEngine(f); ch.engine != engineBuilt || ch.storeLayers != want {
			t.Errorf("classic archive, destination takes %v: %s, storeLayers %v, want built, %v", accepted, ch.engine, ch.storeLayers, want)
		}
	}
	for _, tc := range cases {
		ch := chooseEngine(tc.f(direct))
		if ch.engine != tc.engine || !strings.Contains(ch.reason, tc.reason) || ch.reason == "" {
			t.Errorf("%s: %s (%q), want %s (%q)", tc.name, ch.engine, ch.reason, tc.engine, tc.reason)
		}
	}
	// What the direct engine writes last: the image itself, the whole index, or nothing (the
	// filtered index is copy.Image's).
	if ch := chooseEngine(direct); string(ch.final) != string(img.bytes) || len(ch.images) != 1 {
		t.Errorf("single image: final %q, %d images", ch.final, len(ch.images))
	}
	f := direct
	f.top, f.mode = index, modeFiltered
	if ch := chooseEngine(f); ch.final != nil {
		t.Errorf("filtered index: final %q, want none", ch.final)
	}
}
