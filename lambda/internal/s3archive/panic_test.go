package s3archive

import (
	"errors"
	"strings"
	"testing"

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
