package s3archive

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// A panic while a layer is sniffed or hashed (in its own goroutine) fails the open with
// errs.ErrInternal instead of killing the process.
func TestLayerGoroutinePanicIsAnError(t *testing.T) {
	tarball, _, err := testenv.DockerSave(testenv.SaveImage{RepoTags: []string{"app:latest"}, LayerSizes: []int{1000, 2000}, Layout: "legacy", Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	api := setup(t, "panics", map[string][]byte{"app.tar": tarball})
	layerHook = func(name string) { panic("test panic for " + name) }
	t.Cleanup(func() { layerHook = nil })
	_, err = open(t, api, "//panics/app.tar")
	if !errors.Is(err, errs.ErrInternal) || !strings.Contains(err.Error(), "test panic for") {
		t.Fatalf("got %v, want an internal error naming the panic", err)
	}
}

// Layers are sniffed and hashed by at most hashWorkers goroutines at once, yet concurrently.
func TestLayerHashingPoolIsBounded(t *testing.T) {
	sizes := make([]int, 12)
	for i := range sizes {
		sizes[i] = 100 << 10
	}
	tarball, _, err := testenv.DockerSave(testenv.SaveImage{RepoTags: []string{"app:latest"}, LayerSizes: sizes, Layout: "legacy", Seed: 12})
	if err != nil {
		t.Fatal(err)
	}
	api := setup(t, "pool", map[string][]byte{"app.tar": tarball})
	var running, peak, calls atomic.Int64
	layerHook = func(string) {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		calls.Add(1)
		time.Sleep(20 * time.Millisecond)
		running.Add(-1)
	}
	t.Cleanup(func() { layerHook = nil })
	if _, err := open(t, api, "//pool/app.tar"); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != int64(len(sizes)) || peak.Load() > hashWorkers || peak.Load() < 2 {
		t.Errorf("%d layers, %d at once at most; want all %d, between 2 and %d at once", calls.Load(), peak.Load(), len(sizes), hashWorkers)
	}
}
