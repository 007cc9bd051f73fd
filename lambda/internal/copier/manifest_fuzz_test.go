package copier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// configSource is an ImageSource whose every blob is one config; only GetBlob is used
// (by checkSinglePlatform).
type configSource struct {
	types.ImageSource
	config []byte
}

func (s configSource) GetBlob(context.Context, types.BlobInfo, types.BlobInfoCache) (io.ReadCloser, int64, error) {
	return io.NopCloser(bytes.NewReader(s.config)), int64(len(s.config)), nil
}

var manifestMIMETypes = []string{"", manifest.DockerV2Schema2MediaType, imgspecv1.MediaTypeImageManifest,
	manifest.DockerV2ListMediaType, imgspecv1.MediaTypeImageIndex, manifest.DockerV2Schema1SignedMediaType, "application/json"}

func seedManifests() [][]byte {
	d := func(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }
	return [][]byte{
		[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":"` + d('a') + `"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32,"digest":"` + d('b') + `"}]}`),
		[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":7,"digest":"` + d('a') + `"},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","size":1,"digest":"` + d('c') + `","urls":["https://x"]}]}`),
		[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":7,"digest":"` + d('a') + `"},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip+encrypted","size":1,"digest":"` + d('c') + `"}]}`),
		[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
			`{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"digest":"` + d('1') + `","platform":{"architecture":"amd64","os":"linux"}},` +
			`{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"digest":"` + d('2') + `","platform":{"architecture":"arm64","os":"linux","variant":"v8"}},` +
			`{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"digest":"` + d('3') + `","platform":{"architecture":"arm","os":"linux","variant":"v7"}},` +
			`{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"digest":"` + d('4') + `","platform":{"architecture":"unknown","os":"unknown"}}]}`),
		[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[` +
			`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":10,"digest":"` + d('5') + `","platform":{"architecture":"amd64","os":"windows"}},` +
			`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":10,"digest":"` + d('5') + `","platform":{"architecture":"amd64","os":"linux"}}]}`),
		[]byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:bad","platform":{"os":"linux"}}]}`),
		[]byte(`{"schemaVersion":1,"name":"x","tag":"y","architecture":"amd64","fsLayers":[],"history":[]}`),
		[]byte(`{}`), []byte(`[]`), []byte(`null`), nil,
	}
}

// FuzzManifestBytes feeds registry manifest bytes (any MIME type a registry may claim) to
// the handler's own manifest parsing: childrenByArch (Delete's arch tags), parseDirectImage
// (the direct copy's blob list), checkPinned (a digest-pinned source) and planFor (what the
// destination must hold), with a config blob for checkSinglePlatform.
func FuzzManifestBytes(f *testing.F) {
	for i, m := range seedManifests() {
		f.Add(m, uint8(i), []byte(`{"architecture":"arm64","os":"linux","variant":"v8"}`))
	}
	f.Add(seedManifests()[0], uint8(1), []byte(`{"architecture":"amd64"}`))
	f.Add(seedManifests()[0], uint8(3), []byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte, sel uint8, config []byte) {
		mime := manifestMIMETypes[int(sel)%len(manifestMIMETypes)]
		guessed := manifest.GuessMIMEType(b)
		if mime == "" {
			mime = guessed
		}

		// indexOf and childIn (how deletions find an arch tag's child).
		list, err := indexOf(b)
		if !manifest.MIMETypeIsMultiImage(guessed) {
			if list != nil || err != nil {
				t.Fatalf("indexOf of a %q: %v, %v", guessed, list, err)
			}
		} else if _, lerr := manifest.ListFromBlob(b, guessed); (err == nil) != (lerr == nil) {
			t.Fatalf("indexOf: %v, ListFromBlob: %v", err, lerr)
		} else if err == nil {
			// Each child's own platform leads to a child of that OS, architecture and variant.
			for _, c := range list.Instances() {
				inst, ierr := list.Instance(c)
				if ierr != nil || inst.ReadOnly.Platform == nil || inst.ReadOnly.Platform.OS == "" {
					continue
				}
				own := inst.ReadOnly.Platform
				pl := props.Platform{OS: own.OS, Arch: own.Architecture, Variant: own.Variant}
				d, ok := childIn(list, pl)
				if !ok {
					t.Fatalf("childIn found no child for %+v, which %s is", pl, c)
				}
				got, gerr := list.Instance(d)
				if gerr != nil || got.ReadOnly.Platform == nil || got.ReadOnly.Platform.OS != own.OS ||
					got.ReadOnly.Platform.Architecture != own.Architecture || (own.Variant != "" && got.ReadOnly.Platform.Variant != own.Variant) {
					t.Fatalf("childIn(%+v) = %s, another platform", pl, d)
				}
			}
		}

		// parseDirectImage.
		d := digest.FromBytes(b)
		if img, declined := parseDirectImage(d, b, mime); declined == "" {
			if !slices.Contains(imageManifestTypes, mime) || img.digest != d || !bytes.Equal(img.bytes, b) {
				t.Fatalf("parseDirectImage accepted a %q", mime)
			}
			if len(img.blobs) == 0 || img.blobs[0].Digest != img.config || img.config == "" {
				t.Fatalf("parseDirectImage: config %q not first in %v", img.config, img.blobs)
			}
			for _, bl := range img.blobs {
				if bl.Digest == "" || len(bl.URLs) > 0 || strings.HasSuffix(bl.MediaType, "+encrypted") {
					t.Fatalf("parseDirectImage kept blob %+v", bl)
				}
			}
		}

		// checkPinned: the manifest of its own digest passes, any other digest fails with a
		// short message that quotes digests, not the manifest.
		for _, pin := range []digest.Digest{d, digest.FromString("other"), digest.Canonical.FromBytes(append([]byte("x"), b...))} {
			ref, err := ParseImageName("docker://r.example.com/app@"+pin.String(), nil)
			if err != nil {
				t.Fatal(err)
			}
			matches, _ := manifest.MatchesDigest(b, pin)
			err = checkPinned(ref, b)
			if matches != (err == nil) {
				t.Fatalf("checkPinned(%s) = %v, MatchesDigest %v", pin, err, matches)
			}
			if err != nil && len(err.Error()) > 512 {
				t.Fatalf("checkPinned message of %d bytes", len(err.Error()))
			}
		}
		tagged, _ := ParseImageName("docker://r.example.com/app:v1", nil)
		if err := checkPinned(tagged, b); err != nil {
			t.Fatalf("checkPinned of a tag: %v", err)
		}

		// planFor, for each kind of job.
		sys := &types.SystemContext{OSChoice: "linux", ArchitectureChoice: "amd64"}
		src := configSource{config: config}
		for _, job := range []Job{
			{},
			{CopyImageIndex: true},
			{Platforms: []props.Platform{{Arch: "arm64"}}},
			{Platforms: []props.Platform{{Arch: "amd64"}, {Arch: "arm", Variant: "v7"}}},
		} {
			p, err := (&Copier{}).planFor(context.Background(), src, tagged, sys, job, b, mime)
			if err != nil {
				if errors.Is(err, errs.ErrNoSuchPlatform) && !strings.Contains(err.Error(), "ImageArch") {
					t.Fatalf("ErrNoSuchPlatform without a hint: %v", err)
				}
				continue
			}
			checkPlan(t, p, job, b, mime, config)
		}
	})
}

func checkPlan(t *testing.T, p plan, job Job, b []byte, mime string, config []byte) {
	t.Helper()
	top, err := manifest.Digest(b)
	if err != nil {
		t.Fatalf("planned a manifest without a digest: %v", err)
	}
	if !manifest.MIMETypeIsMultiImage(mime) {
		if p.mode != modeSingle || p.want != top {
			t.Fatalf("single image: plan %+v, want modeSingle %s", p, top)
		}
		if len(job.Platforms) == 1 && p.wantConfig != "" {
			// checkSinglePlatform passed: the config names the asked architecture (on linux),
			// or no architecture at all.
			var pl imgspecv1.Platform
			if err := json.Unmarshal(config, &pl); err != nil {
				t.Fatalf("a config that does not parse passed: %v", err)
			}
			w := job.Platforms[0]
			if pl.Architecture != "" && (pl.Architecture != w.Arch || (pl.OS != "" && pl.OS != "linux") ||
				(w.Variant != "" && pl.Variant != "" && pl.Variant != w.Variant)) {
				t.Fatalf("a %s/%s/%s config passed for ImageArch %s", pl.OS, pl.Architecture, pl.Variant, w)
			}
		}
		return
	}
	list, err := manifest.ListFromBlob(b, mime)
	if err != nil {
		t.Fatalf("planned an index that does not parse: %v", err)
	}
	switch {
	case job.CopyImageIndex:
		if p.mode != modeImageIndex || p.want != top {
			t.Fatalf("index copy: plan %+v", p)
		}
	case len(job.Platforms) > 1:
		if p.mode != modeFiltered || len(p.children) == 0 {
			t.Fatalf("filtered copy: plan %+v", p)
		}
		for _, c := range p.children {
			inst, err := list.Instance(c)
			if err != nil {
				t.Fatalf("child %s: %v", c, err)
			}
			if _, ok := matchPlatform(inst, job.Platforms); !ok {
				t.Fatalf("child %s of platform %+v was not asked for", c, inst.ReadOnly.Platform)
			}
		}
	default:
		if p.mode != modeSingle || !slices.Contains(list.Instances(), p.want) {
			t.Fatalf("single from index: plan %+v, not a child", p)
		}
	}
}
