package copier

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
	"github.com/cdk-ecr-deployment/handler/internal/logging"
)

const sbomType = "application/spdx+json"

// sbomFor is an OCI 1.1 artifact manifest (empty config, artifactType) whose subject is d.
func sbomFor(t *testing.T, subject v1.Descriptor) v1.Image {
	t.Helper()
	l := static.NewLayer([]byte(`{"spdxVersion":"SPDX-2.3","name":"test"}`), sbomType)
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: l})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, ggcrtypes.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, ggcrtypes.MediaType("application/vnd.oci.empty.v1+json"))
	img = mutate.Subject(img, subject).(v1.Image)
	return img
}

// signed pushes a Docker v2s2 image to repo:1 with an SBOM referrer (subject) and a cosign
// style sha256-<hex>.sig tag; it returns the image, SBOM and signature digests.
func signed(t *testing.T, tr *testRegistry, repo string) (img, sbom, sig v1.Hash) {
	t.Helper()
	im := randomImage(t, 1)
	img = tr.pushImage(t, repo+":1", im)
	mt, _ := im.MediaType()
	size, _ := im.Size()
	sb := sbomFor(t, v1.Descriptor{MediaType: mt, Digest: img, Size: size})
	sbom = tr.pushImage(t, repo+"@"+mustDigest(t, sb).String(), sb)
	sg := randomImage(t, 1)
	sig = tr.pushImage(t, repo+":"+strings.Replace(img.String(), ":", "-", 1)+".sig", sg)
	return img, sbom, sig
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// referrersAt lists the referrers of d at tr (API or tag schema, as go-containerregistry reads them).
func referrersAt(t *testing.T, tr *testRegistry, repo string, d v1.Hash) []v1.Descriptor {
	t.Helper()
	idx, err := remote.Referrers(tr.ref(t, repo+"@"+d.String()).Context().Digest(d.String()), tr.remoteOpts()...)
	if err != nil {
		t.Fatalf("listing referrers of %s: %v", d, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return m.Manifests
}

// Debian's docker-registry (distribution 2.8) has no referrers API: the source lists its
// referrers in the sha256-<hex> tag, and the destination's tag is updated the same way.
func TestCopyReferrersTagSchema(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
	img, sbom, sig := signed(t, src, "app")
	sigTag := strings.Replace(img.String(), ":", "-", 1) + ".sig"
	srcList := referrersAt(t, src, "app", img)
	if len(srcList) != 1 || srcList[0].Digest != sbom {
		t.Fatalf("source referrers = %v, want the SBOM %s", srcList, sbom)
	}

	// Control: without CopyReferrers neither the SBOM nor the signature is copied.
	c := dst.copier(t)
	res, err := c.Copy(context.Background(), Job{Src: imageRef(t, "docker://"+src.host+"/app:1"), Dest: imageRef(t, "docker://"+dst.host+"/plain:1")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != img.String() {
		t.Fatalf("digest %s, want %s", res.Digest, img)
	}
	if got := referrersAt(t, dst, "plain", img); len(got) != 0 {
		t.Fatalf("without CopyReferrers the destination lists %v", got)
	}
	if d := dst.digestOfTag(t, "plain:"+sigTag); d != "" {
		t.Fatalf("without CopyReferrers the destination has %s", sigTag)
	}

	res, err = c.Copy(context.Background(), Job{Src: imageRef(t, "docker://"+src.host+"/app:1"), Dest: imageRef(t, "docker://"+dst.host+"/signed:1"), CopyReferrers: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != img.String() {
		t.Fatalf("digest %s, want %s", res.Digest, img)
	}
	got := referrersAt(t, dst, "signed", img)
	if len(got) != 1 || got[0].Digest != sbom || got[0].ArtifactType != srcList[0].ArtifactType {
		t.Fatalf("destination referrers = %+v, want the SBOM %s (%s)", got, sbom, srcList[0].ArtifactType)
	}
	if d := dst.digestOfTag(t, "signed@"+sbom.String()); d != sbom.String() {
		t.Fatalf("the SBOM manifest is not at the destination (%q)", d)
	}
	if d := dst.digestOfTag(t, "signed:"+strings.Replace(img.String(), ":", "-", 1)); d == "" {
		t.Fatalf("the destination has no referrers tag")
	}
	if d := dst.digestOfTag(t, "signed:"+sigTag); d != sig.String() {
		t.Fatalf("cosign tag %s at the destination = %q, want %s", sigTag, d, sig)
	}
	// The SBOM's blobs came along (the registry refuses a manifest without them, but check).
	if _, err := remote.Image(dst.ref(t, "signed@"+sbom.String()), dst.remoteOpts()...); err != nil {
		t.Fatal(err)
	}

	// A second run (the destination already holds the image) copies nothing new and succeeds.
	if _, err := c.Copy(context.Background(), Job{Src: imageRef(t, "docker://"+src.host+"/app:1"), Dest: imageRef(t, "docker://"+dst.host+"/signed:1"), CopyReferrers: true}); err != nil {
		t.Fatal(err)
	}
	if got := referrersAt(t, dst, "signed", img); len(got) != 1 {
		t.Fatalf("after a re-run the destination lists %d referrers, want 1", len(got))
	}
}

// An image with no referrers and no cosign tags copies with CopyReferrers set: missing
// referrers never fail a copy.
func TestCopyReferrersNoneIsNotAFailure(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
	d := src.pushImage(t, "bare:1", randomImage(t, 1))
	res, err := dst.copier(t).Copy(context.Background(), Job{Src: imageRef(t, "docker://"+src.host+"/bare:1"), Dest: imageRef(t, "docker://"+dst.host+"/bare:1"), CopyReferrers: true})
	if err != nil {
		t.Fatalf("copy with CopyReferrers and no referrers: %v", err)
	}
	if res.Digest != d.String() {
		t.Fatalf("digest %s, want %s", res.Digest, d)
	}
}

// A referrer that exists but cannot be written fails the copy with a Reason naming
// CopyReferrers and the referrer.
func TestCopyReferrersWriteFailureFailsTheCopy(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
	_, sbom, _ := signed(t, src, "app")
	dst.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+sbom.String()) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"errors":[{"code":"MANIFEST_INVALID","message":"refused by the test"}]}`))
			return true
		}
		return false
	})
	_, err := dst.copier(t).Copy(context.Background(), Job{Src: imageRef(t, "docker://"+src.host+"/app:1"), Dest: imageRef(t, "docker://"+dst.host+"/app:1"), CopyReferrers: true})
	if err == nil {
		t.Fatal("the copy succeeded although the SBOM could not be written")
	}
	for _, want := range []string{"CopyReferrers", sbom.String(), "refused by the test"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// A referrer write that fails, at a registry whose error echoes the request's Authorization
// header and a presigned URL, reaches neither the Reason (logging.Redact of the error, as
// customresource's handler sends it) nor any log line with the credentials or the signature.
func TestCopyReferrersFailureLeaksNoCredentials(t *testing.T) {
	const password = "Referrer-s3cret-pw"
	const signature = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	src := newDistRegistry(t)
	_, sbom, _ := signed(t, src, "app")
	dst := newLoginRegistry(t, password)
	dst.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+sbom.String()) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			msg := "refused; you sent Authorization: " + r.Header.Get("Authorization") +
				"; see https://bucket.s3.amazonaws.com/x?X-Amz-Credential=AKIA&X-Amz-Signature=" + signature
			body, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": "MANIFEST_INVALID", "message": msg}}})
			_, _ = w.Write(body)
			return true
		}
		return false
	})

	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(logging.Setup(&logs, "debug"))
	defer slog.SetDefault(prev)
	creds := &auth.Credentials{Username: "AWS", Password: password}
	_, err := dst.copier(t).Copy(context.Background(), Job{Src: imageRef(t, "docker://"+src.host+"/app:1"),
		Dest: imageRef(t, "docker://"+dst.host+"/app:1"), DestCreds: Credentials{Current: creds}, CopyReferrers: true})
	if err == nil {
		t.Fatal("the copy succeeded although the SBOM could not be written")
	}
	basic := base64.StdEncoding.EncodeToString([]byte("AWS:" + password))
	// The registry's echo is in the error as the copier returns it: what is checked below is
	// what redaction leaves of it.
	if !strings.Contains(err.Error(), "CopyReferrers") || !strings.Contains(err.Error(), basic) {
		t.Fatalf("the error does not carry the registry's echo through CopyReferrers: %v", err)
	}
	if !strings.Contains(logs.String(), `"msg":"copying"`) {
		t.Fatalf("the copy logged nothing through the handler's logger: %s", logs.String())
	}
	reason := logging.Redact(err.Error())
	for where, text := range map[string]string{"the Reason": reason, "the log": logs.String()} {
		for _, secret := range []string{password, basic, signature} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows %q: %s", where, secret, text)
			}
		}
	}
}

// The referrers API path: go-containerregistry's in-process registry serves
// GET /v2/<name>/referrers/<digest> (distribution spec 1.1), so the source is read through
// the API and the destination lists the copied referrer by itself (no sha256-<hex> tag is
// written there).
func TestCopyReferrersAPI(t *testing.T) {
	src, dst := newRegistry(t, registry.WithReferrersSupport(true)), newRegistry(t, registry.WithReferrersSupport(true))
	img, sbom, sig := signed(t, src, "app")
	res, err := dst.copier(t).Copy(context.Background(), Job{Src: imageRef(t, "docker://"+src.host+"/app:1"), Dest: imageRef(t, "docker://"+dst.host+"/app:1"), CopyReferrers: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != img.String() {
		t.Fatalf("digest %s, want %s", res.Digest, img)
	}
	sawAPI := false
	for _, r := range src.requests() {
		if r == "GET /v2/app/referrers/"+img.String() {
			sawAPI = true
		}
	}
	if !sawAPI {
		t.Fatalf("the source's referrers API was not asked: %v", src.requests())
	}
	got := referrersAt(t, dst, "app", img)
	if len(got) != 1 || got[0].Digest != sbom {
		t.Fatalf("destination referrers = %+v, want %s", got, sbom)
	}
	if d := dst.digestOfTag(t, "app:"+strings.Replace(img.String(), ":", "-", 1)); d != "" {
		t.Fatalf("a referrers tag was written at a destination with the referrers API (%s): %v", d, dst.requests())
	}
	if d := dst.digestOfTag(t, "app:"+strings.Replace(img.String(), ":", "-", 1)+".sig"); d != sig.String() {
		t.Fatalf("cosign tag = %q, want %s", d, sig)
	}
}

// DestManifestFormat "oci" converts a Docker v2s2 image: the destination manifest is OCI,
// its digest differs from the source's, and the result reports the destination's digest.
// The default keeps the source's bytes.
func TestDestManifestFormat(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
	im := randomImage(t, 2)
	if mt, _ := im.MediaType(); mt != ggcrtypes.DockerManifestSchema2 {
		t.Fatalf("test image is %s, want Docker v2s2", mt)
	}
	d := src.pushImage(t, "v2s2:1", im)
	c := dst.copier(t)

	res, err := c.Copy(context.Background(), Job{Src: imageRef(t, "docker://"+src.host+"/v2s2:1"), Dest: imageRef(t, "docker://"+dst.host+"/kept:1")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != d.String() || dst.digestOfTag(t, "kept:1") != d.String() {
		t.Fatalf("default: result %s, destination %s, want the source's %s", res.Digest, dst.digestOfTag(t, "kept:1"), d)
	}

	res, err = c.Copy(context.Background(), Job{Src: imageRef(t, "docker://"+src.host+"/v2s2:1"), Dest: imageRef(t, "docker://"+dst.host+"/oci:1"), DestManifestFormat: "oci"})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(dst.ref(t, "oci:1"), dst.remoteOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	if desc.MediaType != ggcrtypes.OCIManifestSchema1 || manifest.GuessMIMEType(desc.Manifest) != imgspecv1.MediaTypeImageManifest {
		t.Fatalf("destination manifest is %s, want OCI", desc.MediaType)
	}
	if desc.Digest == d {
		t.Fatalf("the converted manifest kept the source digest %s", d)
	}
	if res.Digest != desc.Digest.String() {
		t.Fatalf("result digest %s, destination digest %s", res.Digest, desc.Digest)
	}
	if !strings.HasSuffix(res.URI, "@"+desc.Digest.String()) {
		t.Fatalf("URI %s is not pinned to the destination digest %s", res.URI, desc.Digest)
	}

	// A re-run writes the same converted manifest (the conversion is deterministic).
	res2, err := c.Copy(context.Background(), Job{Src: imageRef(t, "docker://"+src.host+"/v2s2:1"), Dest: imageRef(t, "docker://"+dst.host+"/oci:1"), DestManifestFormat: "oci"})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Digest != res.Digest || dst.digestOfTag(t, "oci:1") != res.Digest {
		t.Fatalf("re-run: digest %s (destination %s), want %s", res2.Digest, dst.digestOfTag(t, "oci:1"), res.Digest)
	}
}

// With CopyImageIndex, the referrers of the index's children are copied too.
func TestCopyReferrersOfIndexChildren(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
	top, kids := src.multiArch(t, "multi:1", []platformed{
		{img: randomImage(t, 1), platform: linux("amd64", "")},
		{img: randomImage(t, 1), platform: linux("arm64", "")},
	})
	child, err := v1.NewHash(kids["linux/arm64"])
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(src.ref(t, "multi@"+child.String()), src.remoteOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	sb := sbomFor(t, v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size})
	sbom := src.pushImage(t, "multi@"+mustDigest(t, sb).String(), sb)

	res, err := dst.copier(t).Copy(context.Background(), Job{Src: imageRef(t, "docker://"+src.host+"/multi:1"), Dest: imageRef(t, "docker://"+dst.host+"/multi:1"),
		CopyImageIndex: true, CopyReferrers: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != top.String() {
		t.Fatalf("digest %s, want the index %s", res.Digest, top)
	}
	if got := referrersAt(t, dst, "multi", child); len(got) != 1 || got[0].Digest != sbom {
		t.Fatalf("the arm64 child's referrers at the destination = %+v, want %s", got, sbom)
	}
}

// A referrers listing that fails for a reason other than "not served" (404, 400, 406: then
// the tag schema is read) fails the copy, after the retries where the failure is transient:
// passing over it would drop the image's signature and SBOM without a word.
func TestCopyReferrersListingFailureFailsTheCopy(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   []string
	}{
		{http.StatusInternalServerError, []string{"CopyReferrers", "listing the referrers of", "listing refused by the test"}},
		{http.StatusForbidden, []string{"unauthorized listing the referrers of", "check SrcCreds", "listing refused by the test"}},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			src, dst := newDistRegistry(t), newDistRegistry(t)
			img, _, _ := signed(t, src, "app")
			var listings atomic.Int32
			src.setHook(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/referrers/") {
					listings.Add(1)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tc.status)
					_, _ = w.Write([]byte(`{"errors":[{"code":"UNKNOWN","message":"listing refused by the test"}]}`))
					return true
				}
				return false
			})
			_, err := dst.copier(t).Copy(context.Background(), Job{Src: imageRef(t, "docker://"+src.host+"/app:1"),
				Dest: imageRef(t, "docker://"+dst.host+"/app:1"), CopyReferrers: true, Retry: testRetry()})
			if err == nil {
				t.Fatal("the copy succeeded although the referrers could not be listed")
			}
			for _, want := range append(tc.want, img.String()) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if n := listings.Load(); tc.status >= 500 && n != int32(testRetry().NumAttempts) {
				t.Errorf("%d listings for a %d, want one per attempt (%d)", n, tc.status, testRetry().NumAttempts)
			}
		})
	}
}
