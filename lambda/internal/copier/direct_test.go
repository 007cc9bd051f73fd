package copier

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/blobinfocache/memory"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// The tests of the direct path that depend on what a registry allows (blobs scoped per
// repository, digests verified on commit, cross-repository mounts) run against a real
// docker-registry (newDistRegistry).

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

// blobsOf sums the sizes of an image's config and layers, and lists their digests.
func blobsOf(t *testing.T, img v1.Image) (digests []string, total int64) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		digests = append(digests, d.Digest.String())
		total += d.Size
	}
	return digests, total
}

func TestDirectCopyBetweenRegistries(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
	img := randomImage(t, 3)
	want := src.pushImage(t, "src/app:v1", img)
	src.resetLog()
	dst.resetLog()
	res, err := src.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+src.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+dst.host+"/dst/app:v1"), Retry: testRetry(),
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
	_, total := blobsOf(t, img)
	read, _ := testenv.BlobBytes(src.env.Requests())
	_, written := testenv.BlobBytes(dst.env.Requests())
	if read != total || written != total {
		t.Errorf("read %d and wrote %d blob bytes, want %d each", read, written, total)
	}
}

// assertMounted checks a copy within one registry into another repository: no blob byte read
// or written, every blob mounted (POST ?mount=&from= answered 201), and every blob of the
// destination's manifests present in the destination repository.
func assertMounted(t *testing.T, reg *testRegistry, from, destRepo string, blobs []string, manifests []v1.Hash) {
	t.Helper()
	reqs := reg.env.Requests()
	var lines []string
	for _, q := range reqs {
		lines = append(lines, q.String())
	}
	all := strings.Join(lines, "\n")
	if read, written := testenv.BlobBytes(reqs); read != 0 || written != 0 {
		t.Errorf("%d blob bytes read and %d written, want 0: every blob can be mounted from %s\n%s", read, written, from, all)
	}
	mounted := map[string]bool{}
	for _, q := range reqs {
		switch {
		case q.Method == http.MethodGet && strings.Contains(q.Path, "/blobs/"):
			t.Errorf("a blob was read: %s", q)
		case (q.Method == http.MethodPatch || q.Method == http.MethodPut) && strings.Contains(q.Path, "/blobs/uploads/"):
			t.Errorf("a blob was uploaded: %s", q)
		case q.Method == http.MethodPost && q.Query.Get("mount") != "":
			if q.Status != http.StatusCreated || q.Query.Get("from") != from || q.Path != "/v2/"+destRepo+"/blobs/uploads/" {
				t.Errorf("mount %s, want 201 from %s into %s", q, from, destRepo)
			}
			mounted[q.Query.Get("mount")] = true
		case q.Method == http.MethodPost:
			t.Errorf("an upload was started: %s", q)
		}
	}
	for _, b := range blobs {
		if !mounted[b] {
			t.Errorf("blob %s was not mounted\n%s", b, all)
		}
	}
	// The destination's manifests are complete in the destination repository.
	ctx := context.Background()
	for _, h := range manifests {
		ref := reg.ref(t, destRepo+"@"+h.String())
		img, err := remote.Image(ref, reg.remoteOpts()...)
		if err != nil {
			t.Fatalf("reading %s: %v", ref, err)
		}
		ds, _ := blobsOf(t, img)
		for _, d := range ds {
			ok, err := reg.env.BlobExists(ctx, destRepo, d)
			if err != nil || !ok {
				t.Errorf("blob %s of %s: HEAD in %s: present %v, %v", d, h, destRepo, ok, err)
			}
		}
	}
}

func TestDirectCopyMountsWithinARegistry(t *testing.T) {
	reg := newDistRegistry(t)
	img := randomImage(t, 2)
	want := reg.pushImage(t, "src/app:v1", img)
	reg.resetLog()
	res, err := reg.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/app:v1"), Retry: testRetry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != want.String() || reg.digestOfTag(t, "dst/app:v1") != want.String() {
		t.Fatalf("digest %s, destination %s, want %s", res.Digest, reg.digestOfTag(t, "dst/app:v1"), want)
	}
	blobs, _ := blobsOf(t, img)
	assertMounted(t, reg, "src/app", "dst/app", blobs, []v1.Hash{want})
}

func TestDirectCopyMountsAnIndexWithinARegistry(t *testing.T) {
	reg := newDistRegistry(t)
	amd, arm := randomImage(t, 1), randomImage(t, 2)
	idx, kids := reg.multiArch(t, "src/multi:v1", []platformed{
		{img: amd, platform: linux("amd64", "")},
		{img: arm, platform: linux("arm64", "v8")},
	})
	reg.resetLog()
	res, err := reg.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/multi:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/multi:v1"), CopyImageIndex: true, Retry: testRetry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != idx.String() {
		t.Fatalf("index digest %s, want %s", res.Digest, idx)
	}
	var blobs []string
	var manifests []v1.Hash
	for k, img := range map[string]v1.Image{"linux/amd64": amd, "linux/arm64/v8": arm} {
		h, err := v1.NewHash(kids[k])
		if err != nil {
			t.Fatal(err)
		}
		manifests = append(manifests, h)
		ds, _ := blobsOf(t, img) // multiArch changes media types, not blob digests
		blobs = append(blobs, ds...)
	}
	assertMounted(t, reg, "src/multi", "dst/multi", blobs, manifests)
}

func TestDirectCopyBlobsExistingAtTheDestinationAreNotRead(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
	img := randomImage(t, 2)
	src.pushImage(t, "src/app:v1", img)
	dst.pushImage(t, "dst/app:old", img) // same blobs, another tag
	for _, r := range []*testRegistry{src, dst} {
		r.resetLog() // the pushes are not part of the copy
	}
	if _, err := src.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+src.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+dst.host+"/dst/app:v1"), Retry: testRetry(),
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
	src, dst := newDistRegistry(t), newDistRegistry(t)
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
		Src: imageRef(t, "docker://"+src.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+dst.host+"/dst/app:v1"), Retry: testRetry(),
	})
	if err == nil {
		t.Fatal("a corrupt blob was copied")
	}
	t.Logf("error: %v", err)
	if !strings.Contains(strings.ToLower(err.Error()), "digest") {
		t.Errorf("the error does not say the digest did not match: %v", err)
	}
	if got := dst.digestOfTag(t, "dst/app:v1"); got != "" {
		t.Errorf("the destination tag exists (%s) after a failed copy", got)
	}
}

func TestDirectCopyIndexChildrenConcurrently(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
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
		Src: imageRef(t, "docker://"+src.host+"/src/multi:v1"), Dest: imageRef(t, "docker://"+dst.host+"/dst/multi:v1"), CopyImageIndex: true, Retry: testRetry(),
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

// A panic in a blob worker fails the copy with errs.ErrInternal; the process lives on.
func TestDirectCopyBlobWorkerPanicIsAnError(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
	src.pushImage(t, "src/app:v1", randomImage(t, 2))
	var calls atomic.Int64
	blobHook = func(info types.BlobInfo) {
		if calls.Add(1) == 2 {
			panic(fmt.Sprintf("test panic for blob %s", info.Digest))
		}
	}
	t.Cleanup(func() { blobHook = nil })
	_, err := src.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+src.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+dst.host+"/dst/app:v1"), Retry: testRetry(),
	})
	if !errors.Is(err, errs.ErrInternal) || !strings.Contains(err.Error(), "test panic for blob") ||
		!strings.Contains(err.Error(), "this is a bug in cdk-ecr-deployment") {
		t.Fatalf("got %v, want an internal error naming the panic", err)
	}
	if n := calls.Load(); n > 3 {
		t.Errorf("%d blob workers ran: the copy was retried after a panic", n)
	}
	if got := dst.digestOfTag(t, "dst/app:v1"); got != "" {
		t.Errorf("the destination tag exists (%s) after a failed copy", got)
	}
}

// A panic in progress reporting is reported by stop, and senders never block on the dead
// reporter.
func TestProgressPanicIsAnError(t *testing.T) {
	progressHook = func(types.ProgressProperties) { panic("test panic in progress") }
	t.Cleanup(func() { progressHook = nil })
	p := startProgress(time.Hour)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 { // far more than the channel's buffer
			p.ch <- types.ProgressProperties{Event: types.ProgressEventRead, OffsetUpdate: 1}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("progress events block after the reporter panicked")
	}
	if err := p.stop(); !errors.Is(err, errs.ErrInternal) || !strings.Contains(err.Error(), "test panic in progress") {
		t.Fatalf("stop: %v", err)
	}
}

// recordSourceBlob must reach containers/image's memory cache (through reflect): if an
// upgrade renames RecordDigestCompressorData, same-registry copies silently stop mounting.
func TestRecordSourceBlobRecordsCompressionAndLocation(t *testing.T) {
	named, err := reference.ParseNormalizedNamed("registry.example:5000/src/app")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := docker.NewReference(reference.TagNameOnly(named))
	if err != nil {
		t.Fatal(err)
	}
	d := digest.FromString("layer")
	cache := memory.New()
	if !recordSourceBlob(cache, ref, named, types.BlobInfo{Digest: d, Size: 5, MediaType: manifest.DockerV2Schema2LayerMediaType}) {
		t.Fatal("recordSourceBlob cannot call the memory cache's RecordDigestCompressorData")
	}
	got := cache.CandidateLocations(ref.Transport(), types.BICTransportScope{Opaque: "registry.example:5000"}, d, false)
	if len(got) != 1 || got[0].Location.Opaque != named.Name() {
		t.Fatalf("candidates %+v", got)
	}
	for mt, want := range map[string]string{
		manifest.DockerV2Schema2LayerMediaType:  "gzip",
		imgspecv1.MediaTypeImageLayerGzip:       "gzip",
		imgspecv1.MediaTypeImageLayerZstd:       "zstd",
		imgspecv1.MediaTypeImageLayer:           "uncompressed",
		manifest.DockerV2Schema2ConfigMediaType: "uncompressed",
		"application/vnd.in-toto+json":          "uncompressed",
	} {
		if got := compressorOf(mt); got != want {
			t.Errorf("compressorOf(%s) = %s, want %s", mt, got, want)
		}
	}
}
