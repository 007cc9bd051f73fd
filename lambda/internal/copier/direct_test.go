package copier

import (
	"context"
	"crypto/rand"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// count returns how many logged requests match method and a path fragment.
func count(reqs []string, method, fragment string) int {
	n := 0
	for _, r := range reqs {
		if strings.HasPrefix(r, method+" ") && strings.Contains(r, fragment) {
			n++
		}
	}
	return n
}

func TestDirectCopyBetweenRegistries(t *testing.T) {
	src, dst := newRegistry(t), newRegistry(t)
	want := src.pushImage(t, "src/app:v1", randomImage(t, 3))
	res, err := src.copier(t).Copy(context.Background(), Job{
		Src: "docker://" + src.host + "/src/app:v1", Dest: "docker://" + dst.host + "/dst/app:v1", Retry: testRetry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != want.String() || dst.digestOfTag(t, "dst/app:v1") != want.String() {
		t.Fatalf("digest %s, destination %s, want %s", res.Digest, dst.digestOfTag(t, "dst/app:v1"), want)
	}
	reqs := dst.requests()
	// 3 layers and the config: one HEAD each (not two), one upload each (POST, one PATCH,
	// PUT), one manifest PUT, and no blob is read back from the destination.
	for _, c := range []struct {
		method, fragment string
		want             int
	}{
		{"HEAD", "/blobs/", 4}, {"POST", "/blobs/uploads/", 4}, {"PATCH", "/blobs/uploads/", 4},
		{"PUT", "/blobs/uploads/", 4}, {"PUT", "/manifests/", 1}, {"GET", "/blobs/", 0},
	} {
		if got := count(reqs, c.method, c.fragment); got != c.want {
			t.Errorf("%d %s %s requests at the destination, want %d\n%s", got, c.method, c.fragment, c.want, strings.Join(reqs, "\n"))
		}
	}
	if got := count(src.requests(), "GET", "/blobs/sha256:"); got != 4 {
		t.Errorf("%d blob GETs at the source, want 4 (each blob read once)", got)
	}
}

func TestDirectCopyMountsWithinARegistry(t *testing.T) {
	reg := newRegistry(t)
	reg.pushImage(t, "src/app:v1", randomImage(t, 2))
	before := len(reg.requests())
	if _, err := reg.copier(t).Copy(context.Background(), Job{
		Src: "docker://" + reg.host + "/src/app:v1", Dest: "docker://" + reg.host + "/dst/app:v1", Retry: testRetry(),
	}); err != nil {
		t.Fatal(err)
	}
	reqs := reg.requests()[before:]
	if n := count(reqs, "PATCH", "/blobs/uploads/"); n != 0 {
		t.Errorf("%d blob uploads, want 0: every blob can be mounted from src/app\n%s", n, strings.Join(reqs, "\n"))
	}
	if n := count(reqs, "GET", "/blobs/sha256:"); n != 0 {
		t.Errorf("%d blob reads, want 0", n)
	}
}

func TestDirectCopyBlobsExistingAtTheDestinationAreNotRead(t *testing.T) {
	src, dst := newRegistry(t), newRegistry(t)
	img := randomImage(t, 2)
	src.pushImage(t, "src/app:v1", img)
	dst.pushImage(t, "dst/app:old", img) // same blobs, another tag
	for _, r := range []*testRegistry{src, dst} {
		r.mu.Lock()
		r.log = nil // the pushes are not part of the copy
		r.mu.Unlock()
	}
	if _, err := src.copier(t).Copy(context.Background(), Job{
		Src: "docker://" + src.host + "/src/app:v1", Dest: "docker://" + dst.host + "/dst/app:v1", Retry: testRetry(),
	}); err != nil {
		t.Fatal(err)
	}
	if n := count(src.requests(), "GET", "/blobs/"); n != 0 {
		t.Errorf("%d blob GETs at the source, want 0", n)
	}
	if n := count(dst.requests(), "POST", "/blobs/uploads/"); n != 0 {
		t.Errorf("%d uploads, want 0", n)
	}
}

func TestDirectCopyCorruptSourceBlobFails(t *testing.T) {
	src, dst := newRegistry(t), newRegistry(t)
	img := randomImage(t, 1)
	src.pushImage(t, "src/app:v1", img)
	sizes := map[string]int64{}
	layers, _ := img.Layers()
	for _, l := range layers {
		d, _ := l.Digest()
		sizes[d.String()], _ = l.Size()
	}
	// The source serves other bytes of the right length for the layer: nothing on the way
	// hashes them, so the destination must refuse the commit.
	src.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		i := strings.Index(r.URL.Path, "/blobs/")
		if r.Method != http.MethodGet || i < 0 {
			return false
		}
		size, ok := sizes[r.URL.Path[i+len("/blobs/"):]]
		if !ok {
			return false
		}
		junk := make([]byte, size)
		_, _ = rand.Read(junk)
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(junk)
		return true
	})
	_, err := src.copier(t).Copy(context.Background(), Job{
		Src: "docker://" + src.host + "/src/app:v1", Dest: "docker://" + dst.host + "/dst/app:v1", Retry: testRetry(),
	})
	if err == nil {
		t.Fatal("a corrupt blob was copied")
	}
	t.Logf("error: %v", err)
	if got := dst.digestOfTag(t, "dst/app:v1"); got != "" {
		t.Errorf("the destination tag exists (%s) after a failed copy", got)
	}
}

func TestDirectCopyIndexChildrenConcurrently(t *testing.T) {
	src, dst := newRegistry(t), newRegistry(t)
	idx, _ := src.multiArch(t, "src/multi:v1", []platformed{
		{img: randomImage(t, 1), platform: linux("amd64", "")},
		{img: randomImage(t, 1), platform: linux("arm64", "v8")},
	})
	// Each upload takes a while; count how many run at once.
	var inFlight, peak atomic.Int64
	dst.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPatch {
			n := inFlight.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(100 * time.Millisecond)
			inFlight.Add(-1)
		}
		return false
	})
	res, err := src.copier(t).Copy(context.Background(), Job{
		Src: "docker://" + src.host + "/src/multi:v1", Dest: "docker://" + dst.host + "/dst/multi:v1", AllImages: true, Retry: testRetry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != idx.String() {
		t.Errorf("index digest %s, want %s", res.Digest, idx)
	}
	// 2 children x (1 layer + config) = 4 uploads, all at once.
	if p := peak.Load(); p < 4 {
		t.Errorf("at most %d uploads ran at once, want 4 (both children's blobs together)", p)
	}
}
