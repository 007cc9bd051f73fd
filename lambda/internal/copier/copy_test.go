package copier

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/props"
)

func testRetry() props.Retry {
	return props.Retry{NumAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond}
}

func TestCopySingleImage(t *testing.T) {
	reg := newRegistry(t)
	want := reg.pushImage(t, "src/app:v1", randomImage(t, 3))

	res, err := reg.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/app:v1"), Retry: testRetry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != want.String() {
		t.Errorf("digest = %s, want the source digest %s", res.Digest, want)
	}
	if res.URI != reg.host+"/dst/app@"+want.String() {
		t.Errorf("URI = %s", res.URI)
	}
	if res.Skipped {
		t.Error("first copy reported as skipped")
	}
	if got := reg.digestOfTag(t, "dst/app:v1"); got != want.String() {
		t.Errorf("destination tag points at %q, want %s", got, want)
	}
}

func TestRerunWritesNothing(t *testing.T) {
	reg := newRegistry(t)
	reg.pushImage(t, "src/app:v1", randomImage(t, 2))
	c := reg.copier(t)
	job := Job{Src: imageRef(t, "docker://"+reg.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/app:v1"),
		DestTags: []string{"stable"}, Retry: testRetry()}
	first, err := c.Copy(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	before := reg.writes.Load()
	second, err := c.Copy(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.writes.Load() - before; n != 0 {
		t.Errorf("re-run made %d write requests, want 0", n)
	}
	if !second.Skipped || second.Digest != first.Digest {
		t.Errorf("re-run = %+v, want skipped with digest %s", second, first.Digest)
	}
}

func TestArchSelectionFromIndex(t *testing.T) {
	reg := newRegistry(t)
	_, kids := reg.multiArch(t, "src/multi:v1", []platformed{
		{img: randomImage(t, 1), platform: linux("amd64", "")},
		{img: randomImage(t, 1), platform: linux("arm64", "v8")},
		attestationKid(t, "sha256:0000000000000000000000000000000000000000000000000000000000000000"),
	})
	c := reg.copier(t)
	for _, tc := range []struct {
		platforms []props.Platform
		want      string
	}{
		{nil, kids["linux/amd64"]}, // upstream's default
		{[]props.Platform{{Arch: "arm64"}}, kids["linux/arm64/v8"]},
		{[]props.Platform{{Arch: "arm64", Variant: "v8"}}, kids["linux/arm64/v8"]},
	} {
		res, err := c.Copy(context.Background(), Job{
			Src: imageRef(t, "docker://"+reg.host+"/src/multi:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/single:latest"),
			Platforms: tc.platforms, Retry: testRetry(),
		})
		if err != nil {
			t.Fatalf("%v: %v", tc.platforms, err)
		}
		if res.Digest != tc.want {
			t.Errorf("%v: digest %s, want the child %s", tc.platforms, res.Digest, tc.want)
		}
	}

	_, err := c.Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/multi:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/single:latest"),
		Platforms: []props.Platform{{Arch: "s390x"}}, Retry: testRetry(),
	})
	// The index exists: the Reason must point at ImageArch, not at the image name.
	if !errors.Is(err, errs.ErrNoSuchPlatform) || !strings.Contains(err.Error(), "s390x") || !strings.Contains(err.Error(), "linux/amd64") ||
		strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing arch error = %v", err)
	}
	_, err = c.Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/multi:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/filtered:latest"),
		Platforms: []props.Platform{{Arch: "amd64"}, {Arch: "s390x"}}, Retry: testRetry(),
	})
	if !errors.Is(err, errs.ErrNoSuchPlatform) || strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing arch in a filtered copy: error = %v", err)
	}
}

func TestCopyWholeIndexWithAttestationAndArchTags(t *testing.T) {
	reg := newRegistry(t)
	idx, kids := reg.multiArch(t, "src/multi:v1", []platformed{
		{img: randomImage(t, 2), platform: linux("amd64", "")},
		{img: randomImage(t, 2), platform: linux("arm64", "")},
		attestationKid(t, "sha256:1111111111111111111111111111111111111111111111111111111111111111"),
	})
	c := reg.copier(t)
	// The destination has a host:port registry, which upstream's arch-tag code broke on.
	job := Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/multi:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/multi:v1"),
		CopyImageIndex: true, ArchTags: archTags("amd64", "v1-amd64", "arm64", "v1-arm64"), Retry: testRetry(),
	}
	res, err := c.Copy(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != idx.String() {
		t.Errorf("index digest %s, want %s (byte-for-byte copy)", res.Digest, idx)
	}
	if n := len(reg.index(t, "dst/multi:v1").Manifests); n != 3 {
		t.Errorf("destination index has %d children, want 3 (attestation kept)", n)
	}
	if got := reg.digestOfTag(t, "dst/multi:v1-amd64"); got != kids["linux/amd64"] {
		t.Errorf("v1-amd64 -> %s, want %s", got, kids["linux/amd64"])
	}
	if got := reg.digestOfTag(t, "dst/multi:v1-arm64"); got != kids["linux/arm64"] {
		t.Errorf("v1-arm64 -> %s, want %s", got, kids["linux/arm64"])
	}

	before := reg.writes.Load()
	if _, err := c.Copy(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if n := reg.writes.Load() - before; n != 0 {
		t.Errorf("re-run made %d writes, want 0 (arch tags already right)", n)
	}
}

func TestSeveralArchsGiveFilteredIndex(t *testing.T) {
	reg := newRegistry(t)
	_, kids := reg.multiArch(t, "src/multi:v1", []platformed{
		{img: randomImage(t, 1), platform: linux("amd64", "")},
		{img: randomImage(t, 1), platform: linux("arm64", "")},
		{img: randomImage(t, 1), platform: linux("arm", "v7")},
		attestationKid(t, "sha256:2222222222222222222222222222222222222222222222222222222222222222"),
	})
	c := reg.copier(t)
	job := Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/multi:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/two:v1"),
		Platforms: []props.Platform{{Arch: "amd64"}, {Arch: "arm64"}}, Retry: testRetry(),
	}
	res, err := c.Copy(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	m := reg.index(t, "dst/two:v1")
	var got []string
	for _, d := range m.Manifests {
		got = append(got, d.Digest.String())
	}
	want := []string{kids["linux/amd64"], kids["linux/arm64"]}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("children %v, want %v", got, want)
	}
	if reg.digestOfTag(t, "dst/two:v1") != res.Digest {
		t.Errorf("result digest %s does not match the destination tag", res.Digest)
	}

	before := reg.writes.Load()
	again, err := c.Copy(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.writes.Load() - before; n != 0 || !again.Skipped {
		t.Errorf("re-run made %d writes (skipped=%v), want 0", n, again.Skipped)
	}
}

func TestDestTags(t *testing.T) {
	reg := newRegistry(t)
	want := reg.pushImage(t, "src/app:v1", randomImage(t, 1))
	c := reg.copier(t)
	// A pre-existing tag pointing elsewhere is moved.
	reg.pushImage(t, "dst/app:stable", randomImage(t, 1))
	_, err := c.Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/app:v1"),
		DestTags: []string{"stable", "2024-01"}, Retry: testRetry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"v1", "stable", "2024-01"} {
		if got := reg.digestOfTag(t, "dst/app:"+tag); got != want.String() {
			t.Errorf("%s -> %q, want %s", tag, got, want)
		}
	}
}

func TestDestinationByDigest(t *testing.T) {
	reg := newRegistry(t)
	d := reg.pushImage(t, "src/app:v1", randomImage(t, 1))
	res, err := reg.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/app@"+d.String()),
		DestTags: []string{"pinned"}, Retry: testRetry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.URI != reg.host+"/dst/app@"+d.String() {
		t.Errorf("URI %s", res.URI)
	}
	if got := reg.digestOfTag(t, "dst/app:pinned"); got != d.String() {
		t.Errorf("pinned -> %q", got)
	}
}

func TestMissingSourceTag(t *testing.T) {
	reg := newRegistry(t)
	reg.pushImage(t, "src/app:v1", randomImage(t, 1))
	_, err := reg.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/app:nope"), Dest: imageRef(t, "docker://"+reg.host+"/dst/app:v1"), Retry: testRetry(),
	})
	if !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	for _, s := range []string{"manifest unknown", "/src/app:nope", "does not exist", "check the image name and tag"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
}

func TestCredentials(t *testing.T) {
	reg := newRegistry(t)
	reg.auth = "AWS:p:a:ss"
	reg.pushImage(t, "src/app:v1", randomImage(t, 1))
	c := reg.copier(t)
	creds := &auth.Credentials{Username: "AWS", Password: "p:a:ss"}
	_, err := c.Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/app:v1"),
		SrcCreds: Credentials{Current: creds}, DestCreds: Credentials{Current: creds}, Retry: testRetry(),
	})
	if err != nil {
		t.Fatalf("with the right credentials: %v", err)
	}

	n := len(reg.requests())
	_, err = c.Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/app:v2"),
		SrcCreds: Credentials{Current: &auth.Credentials{Username: "AWS", Password: "wrong"}}, DestCreds: Credentials{Current: creds},
		Retry: props.Retry{NumAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
	})
	if !errors.Is(err, errs.ErrUnauthorized) || !strings.Contains(err.Error(), "SrcCreds") {
		t.Fatalf("err = %v, want ErrUnauthorized naming SrcCreds", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error leaks the password: %v", err)
	}
	// Refused requests are not logged by the test registry, so any logged
	// source request would be a retry that got through; there must be none.
	// (The destination is read meanwhile, with its own, valid credentials.)
	var extra []string
	for _, r := range reg.requests()[n:] {
		if !strings.Contains(r, "/dst/") {
			extra = append(extra, r)
		}
	}
	if len(extra) != 0 {
		t.Errorf("%d requests after an auth failure (%v); auth failures must not be retried", len(extra), extra)
	}
}

func TestSourceAuthFallback(t *testing.T) {
	reg := newRegistry(t)
	reg.auth = "AWS:token"
	reg.pushImage(t, "src/app:v1", randomImage(t, 1))
	var asked atomic.Int32
	_, err := reg.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/app:v1"),
		DestCreds: Credentials{Current: &auth.Credentials{Username: "AWS", Password: "token"}},
		// Anonymous first (ECR Public serves most images so); a token only after a refusal.
		SrcCreds: Credentials{Relogin: func(context.Context) (*auth.Credentials, error) {
			asked.Add(1)
			return &auth.Credentials{Username: "AWS", Password: "token"}, nil
		}},
		Retry: testRetry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if asked.Load() != 1 {
		t.Errorf("fallback asked %d times, want 1", asked.Load())
	}
}

func TestTransientFailuresAreRetried(t *testing.T) {
	src, dst := newRegistry(t), newRegistry(t)
	src.pushImage(t, "src/app:v1", randomImage(t, 2))
	var starts atomic.Int32
	dst.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		// The first blob upload start fails as an overloaded registry would.
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads") && starts.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	c := src.copier(t)
	c.opts.tlsConfig.RootCAs.AddCert(dst.srv.Certificate())
	res, err := c.Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+src.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+dst.host+"/dst/app:v1"), Retry: testRetry(),
	})
	if err != nil {
		t.Fatalf("copy with one 503: %v", err)
	}
	if starts.Load() < 2 || dst.digestOfTag(t, "dst/app:v1") != res.Digest {
		t.Errorf("expected a retried, complete copy (upload starts: %d)", starts.Load())
	}
}

func TestTransientFailuresGiveUp(t *testing.T) {
	reg := newRegistry(t)
	reg.pushImage(t, "src/app:v1", randomImage(t, 1))
	var manifestGets atomic.Int32
	reg.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/src/app/manifests/") {
			manifestGets.Add(1)
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		return false
	})
	_, err := reg.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/app:v1"),
		Retry: props.Retry{NumAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
	})
	if err == nil {
		t.Fatal("copy succeeded against a failing registry")
	}
	if manifestGets.Load() < 2 {
		t.Errorf("manifest requested %d times; 502 should be retried", manifestGets.Load())
	}
}
