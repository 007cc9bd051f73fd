package copier

import (
	"context"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"
)

// servable is a manifest as go-containerregistry holds it: an image or an index.
type servable interface {
	RawManifest() ([]byte, error)
	MediaType() (ggcrtypes.MediaType, error)
}

// alterManifest makes tr answer GETs of repo's manifest d with img's manifest instead (its
// Content-Type, and the Docker-Content-Digest of d: the lie goes all the way).
func alterManifest(t *testing.T, tr *testRegistry, repo string, d v1.Hash, img servable) {
	t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	tr.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || r.URL.Path != "/v2/"+repo+"/manifests/"+d.String() {
			return false
		}
		w.Header().Set("Content-Type", string(mt))
		w.Header().Set("Docker-Content-Digest", d.String())
		_, _ = w.Write(raw)
		return true
	})
}

// A manifest read back by digest to be PUT under another tag (DestTags) must be that
// manifest: a destination answering the digest with another image's bytes fails the copy,
// and the tag does not point at the other image.
func TestDestTagsRefuseAManifestReadBackWithAnotherDigest(t *testing.T) {
	reg := newDistRegistry(t)
	want := reg.pushImage(t, "src/app:v1", randomImage(t, 1))
	other := randomImage(t, 1)
	otherDigest := reg.pushImage(t, "dst/app:other", other) // the bytes the registry takes
	alterManifest(t, reg, "dst/app", want, other)

	_, err := reg.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/app:v1"),
		DestTags: []string{"stable"}, Retry: testRetry(),
	})
	if got := reg.digestOfTag(t, "dst/app:stable"); got == otherDigest.String() {
		t.Errorf("stable points at the image the registry served instead (%s)", got)
	}
	if err == nil {
		t.Fatal("the copy succeeded although the manifest read back had another digest")
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), want.String()) || !strings.Contains(err.Error(), otherDigest.String()) {
		t.Errorf("the error does not name both digests (%s asked, %s served): %v", want, otherDigest, err)
	}
}

// The same for ArchImageTags: the children of the copied index are read from the index read
// back by digest, which must be the index copied.
func TestArchTagsRefuseAnIndexReadBackWithAnotherDigest(t *testing.T) {
	reg := newDistRegistry(t)
	idx, _ := reg.multiArch(t, "src/multi:v1", []platformed{
		{img: randomImage(t, 1), platform: linux("amd64", "")},
		{img: randomImage(t, 1), platform: linux("arm64", "")},
	})
	otherIdx, otherKids := reg.multiArch(t, "dst/multi:other", []platformed{
		{img: randomImage(t, 1), platform: linux("amd64", "")},
		{img: randomImage(t, 1), platform: linux("arm64", "")},
	})
	served, err := remote.Index(reg.ref(t, "dst/multi:other"), reg.remoteOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	alterManifest(t, reg, "dst/multi", idx, served)

	_, err = reg.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/multi:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/multi:v1"),
		CopyImageIndex: true, ArchTags: archTags("arm64", "v1-arm64"), Retry: testRetry(),
	})
	if got := reg.digestOfTag(t, "dst/multi:v1-arm64"); got == otherKids["linux/arm64"] {
		t.Errorf("v1-arm64 points at the arm64 child of the index the registry served instead (%s)", got)
	}
	if err == nil {
		t.Fatal("the copy succeeded although the index read back had another digest")
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), idx.String()) || !strings.Contains(err.Error(), otherIdx.String()) {
		t.Errorf("the error does not name both digests (%s asked, %s served): %v", idx, otherIdx, err)
	}
}
