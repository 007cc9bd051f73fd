package copier

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
)

const (
	simpleSigningType = "application/vnd.dev.cosign.simplesigning.v1+json"
	cosignSigKey      = "dev.cosignproject.cosign/signature"
)

// cosignSignatures is a .sig manifest as cosign writes it: one layer per signature, the
// signature itself in the layer's annotation.
func cosignSignatures(t *testing.T, sigs ...string) v1.Image {
	t.Helper()
	img := empty.Image
	for _, s := range sigs {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:       static.NewLayer([]byte(`{"critical":{"image":{"docker-manifest-digest":"`+s+`"}}}`), simpleSigningType),
			Annotations: map[string]string{cosignSigKey: "sig-" + s},
			MediaType:   simpleSigningType,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// signaturesAt are the signature annotations of the manifest under tag at tr, in order.
func signaturesAt(t *testing.T, tr *testRegistry, repoTag string) []string {
	t.Helper()
	img, err := remote.Image(tr.ref(t, repoTag), tr.remoteOpts()...)
	if err != nil {
		t.Fatalf("reading %s: %v", repoTag, err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range m.Layers {
		if l.MediaType != simpleSigningType {
			t.Fatalf("layer %s of %s has media type %s", l.Digest, repoTag, l.MediaType)
		}
		out = append(out, l.Annotations[cosignSigKey])
	}
	return out
}

// A signature added at the destination (a second signer) survives CopyReferrers: the
// source's signatures are appended to the destination's .sig, not written over it, and a
// re-run writes nothing. A differing .sbom at the destination is left as it is.
func TestCopyReferrersKeepsDestinationSignatures(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
	im := randomImage(t, 1)
	img := src.pushImage(t, "app:1", im)
	prefix := strings.Replace(img.String(), ":", "-", 1)
	src.pushImage(t, "app:"+prefix+".sig", cosignSignatures(t, "ci"))
	src.pushImage(t, "app:"+prefix+".sbom", randomImage(t, 1))
	// The destination already holds the image, signed there by another key, and its own SBOM.
	dst.pushImage(t, "app:1", im)
	dst.pushImage(t, "app:"+prefix+".sig", cosignSignatures(t, "promotion"))
	destSbom := dst.pushImage(t, "app:"+prefix+".sbom", randomImage(t, 1))

	c := dst.copier(t)
	job := Job{Src: imageRef(t, "docker://"+src.host+"/app:1"), Dest: imageRef(t, "docker://"+dst.host+"/app:1"), CopyReferrers: true}
	if _, err := c.Copy(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if got := signaturesAt(t, dst, "app:"+prefix+".sig"); strings.Join(got, ",") != "sig-promotion,sig-ci" {
		t.Fatalf("destination signatures = %v, want the destination's then the source's [sig-promotion sig-ci]", got)
	}
	if d := dst.digestOfTag(t, "app:"+prefix+".sbom"); d != destSbom.String() {
		t.Fatalf("the destination's .sbom is now %s, want it left at %s", d, destSbom)
	}
	merged := dst.digestOfTag(t, "app:"+prefix+".sig")

	// A re-run finds every source signature in place and writes no manifest.
	dst.resetLog()
	if _, err := c.Copy(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	for _, r := range dst.requests() {
		if strings.HasPrefix(r, "PUT ") && strings.Contains(r, "/manifests/") {
			t.Fatalf("the re-run wrote a manifest: %s", r)
		}
	}
	if d := dst.digestOfTag(t, "app:"+prefix+".sig"); d != merged {
		t.Fatalf("the re-run moved the .sig tag from %s to %s", merged, d)
	}

	// A destination without the tag gets the source's manifest as it is.
	job.Dest = imageRef(t, "docker://"+dst.host+"/fresh:1")
	if _, err := c.Copy(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if got := signaturesAt(t, dst, "fresh:"+prefix+".sig"); strings.Join(got, ",") != "sig-ci" {
		t.Fatalf("fresh destination signatures = %v, want [sig-ci]", got)
	}
}
