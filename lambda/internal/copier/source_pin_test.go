package copier

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// repoint PUTs manifest bytes to repo:tag on the real registry behind tr's proxy (so that the
// hook which calls it does not see its own write).
func repoint(tr *testRegistry, repo, tag string, b []byte, mime string) error {
	req, err := http.NewRequest(http.MethodPut, "https://"+tr.env.Direct+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mime)
	client := &http.Client{Transport: tr.env.Transport(), Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("PUT %s: %s", req.URL.Path, resp.Status)
	}
	return nil
}

// A source tag moved while a filtered index is copied (a CI pipeline pushing again) must not
// change what is copied: every read after planning is pinned to the planned digest, so the
// destination gets exactly the planned children, not the moved tag's.
func TestFilteredIndexCopyIgnoresATagMovedAfterPlanning(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
	amd := randomImage(t, 1)
	_, planned := src.multiArch(t, "src/multi:v1", []platformed{
		{img: amd, platform: linux("amd64", "")},
		{img: randomImage(t, 1), platform: linux("arm64", "")},
	})
	// The tag's next image keeps the amd64 child and has a new arm64 one.
	_, next := src.multiArch(t, "src/multi:next", []platformed{
		{img: amd, platform: linux("amd64", "")},
		{img: randomImage(t, 1), platform: linux("arm64", "")},
	})
	nextIdx, err := remote.Index(src.ref(t, "src/multi:next"), src.remoteOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	nextRaw, err := nextIdx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	nextType, err := nextIdx.MediaType()
	if err != nil {
		t.Fatal(err)
	}

	// The first GET of the tag is the plan's; the tag moves at the next request for the
	// repository, before anything is copied.
	var (
		planned1 atomic.Bool
		once     sync.Once
		moveErr  error
		moved    atomic.Bool
	)
	src.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/v2/src/multi/") {
			return false
		}
		if !planned1.Load() {
			if r.Method == http.MethodGet && r.URL.Path == "/v2/src/multi/manifests/v1" {
				planned1.Store(true)
			}
			return false
		}
		once.Do(func() {
			moveErr = repoint(src, "src/multi", "v1", nextRaw, string(nextType))
			moved.Store(moveErr == nil)
		})
		return false
	})

	res, err := src.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+src.host+"/src/multi:v1"), Dest: imageRef(t, "docker://"+dst.host+"/dst/multi:v1"),
		Platforms: []props.Platform{{Arch: "amd64"}, {Arch: "arm64"}}, Retry: testRetry(),
	})
	if moveErr != nil {
		t.Fatalf("moving the source tag: %v", moveErr)
	}
	if !moved.Load() {
		t.Fatal("the source tag was never moved: the test did not test anything")
	}
	if planned["linux/arm64"] == next["linux/arm64"] {
		t.Fatal("the two arm64 images are the same: the test cannot tell them apart")
	}
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range dst.index(t, "dst/multi:v1").Manifests {
		got = append(got, d.Digest.String())
	}
	want := []string{planned["linux/amd64"], planned["linux/arm64"]}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("destination children %v, want the planned %v (the moved tag's arm64 is %s)", got, want, next["linux/arm64"])
	}
	if d := dst.digestOfTag(t, "dst/multi:v1"); d != res.Digest {
		t.Errorf("result digest %s, destination tag at %s", res.Digest, d)
	}
}
