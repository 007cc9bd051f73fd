package copier

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// A source pinned by digest must be that manifest: a registry (or anything in between)
// answering the digest with another manifest fails the copy before anything is written.
func TestSourcePinnedByDigestMustMatch(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
	pinned := src.pushImage(t, "src/app:v1", randomImage(t, 1))
	other := randomImage(t, 1)
	served := src.pushImage(t, "src/app:other", other)
	raw, err := other.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := other.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	// A stand-in in front of the real registry rewrites that one response.
	src.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || r.URL.Path != "/v2/src/app/manifests/"+pinned.String() {
			return false
		}
		w.Header().Set("Content-Type", string(mt))
		w.Header().Set("Docker-Content-Digest", pinned.String()) // the lie goes all the way
		_, _ = w.Write(raw)
		return true
	})
	dst.resetLog()
	_, err = src.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+src.host+"/src/app@"+pinned.String()), Dest: imageRef(t, "docker://"+dst.host+"/dst/app:v1"), Retry: testRetry(),
	})
	if err == nil {
		t.Fatal("a manifest other than the pinned one was copied")
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), pinned.String()) || !strings.Contains(err.Error(), served.String()) {
		t.Errorf("the error does not name both digests (%s asked, %s served): %v", pinned, served, err)
	}
	for _, r := range dst.requests() {
		if strings.HasPrefix(r, "PUT ") || strings.HasPrefix(r, "POST ") || strings.HasPrefix(r, "PATCH ") {
			t.Errorf("the destination was written to: %s", r)
		}
	}

	// Without the stand-in the same job copies the pinned image.
	src.setHook(nil)
	res, err := src.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+src.host+"/src/app@"+pinned.String()), Dest: imageRef(t, "docker://"+dst.host+"/dst/app:v1"), Retry: testRetry(),
	})
	if err != nil || res.Digest != pinned.String() {
		t.Fatalf("copy of the pinned image: %+v, %v", res, err)
	}
}

// withPlatform sets an image's config platform.
func withPlatform(t *testing.T, img v1.Image, os, arch string) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = os, arch
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImageArchOnASingleImageOfAnotherPlatformFails(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
	src.pushImage(t, "src/amd:v1", withPlatform(t, randomImage(t, 1), "linux", "amd64"))
	src.pushImage(t, "src/win:v1", withPlatform(t, randomImage(t, 1), "windows", "arm64"))
	for _, c := range []struct {
		src, has string
		want     []props.Platform
		asks     string
	}{
		{"src/amd:v1", "linux/amd64", []props.Platform{{Arch: "arm64"}}, "arm64"},
		{"src/amd:v1", "linux/amd64", []props.Platform{{Arch: "amd64"}, {Arch: "arm64"}}, "amd64, arm64"},
		{"src/win:v1", "windows/arm64", []props.Platform{{Arch: "arm64"}}, "arm64"},
	} {
		dst.resetLog()
		_, err := src.copier(t).Copy(context.Background(), Job{
			Src: imageRef(t, "docker://"+src.host+"/"+c.src), Dest: imageRef(t, "docker://"+dst.host+"/dst/app:v1"), Platforms: c.want, Retry: testRetry(),
		})
		want := "docker://" + src.host + "/" + c.src + " is a single " + c.has + " image, not an index; ImageArch asks for " + c.asks
		if !errors.Is(err, errs.ErrNoSuchPlatform) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s with ImageArch %s: got %v, want ErrNoSuchPlatform saying %q", c.src, c.asks, err, want)
		}
		for _, r := range dst.requests() {
			if strings.HasPrefix(r, "PUT ") || strings.HasPrefix(r, "POST ") {
				t.Errorf("the destination was written to: %s", r)
			}
		}
	}
}

func TestImageArchOnASingleImage(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
	img := withPlatform(t, randomImage(t, 1), "linux", "arm64")
	want := src.pushImage(t, "src/arm:v1", img)
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	copyWith := func(platforms []props.Platform) (Result, []string) {
		t.Helper()
		src.resetLog()
		res, err := src.copier(t).Copy(context.Background(), Job{
			Src: imageRef(t, "docker://"+src.host+"/src/arm:v1"), Dest: imageRef(t, "docker://"+dst.host+"/dst/app:v1"), Platforms: platforms, Retry: testRetry(),
		})
		if err != nil {
			t.Fatalf("ImageArch %v: %v", platforms, err)
		}
		if res.Digest != want.String() {
			t.Fatalf("ImageArch %v: digest %s, want %s", platforms, res.Digest, want)
		}
		return res, src.requests()
	}
	// No ImageArch (the default): a single image is copied whatever its architecture, as
	// upstream does, and its config is not read for the plan.
	copyWith(nil)
	if res, reqs := copyWith(nil); !res.Skipped || count(reqs, "GET", "/blobs/") != 0 {
		t.Errorf("re-run without ImageArch: skipped %v, %d blob GETs at the source, want 0\n%s", res.Skipped, count(reqs, "GET", "/blobs/"), strings.Join(reqs, "\n"))
	}
	// ImageArch naming the image's architecture: one small GET, the config.
	for _, pl := range [][]props.Platform{{{Arch: "arm64"}}, {{Arch: "arm64", Variant: "v8"}}} {
		res, reqs := copyWith(pl)
		if !res.Skipped || count(reqs, "GET", "/blobs/") != 1 || count(reqs, "GET", "/blobs/"+cfg.String()) != 1 {
			t.Errorf("re-run with ImageArch %v: skipped %v, want only the config read\n%s", pl, res.Skipped, strings.Join(reqs, "\n"))
		}
	}
}
