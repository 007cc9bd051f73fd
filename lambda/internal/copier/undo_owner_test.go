package copier

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// A failed copy's undo never deletes a manifest the repository held before the copy. The
// image is already in the destination untagged (pushed by digest); the copy tags it
// "stable", a DestTag is refused, and removing "stable" on the distribution API would
// delete the manifest: so "stable" stays, and the error says so.
func TestFailedCopyKeepsAManifestThatWasThere(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
	img := randomImage(t, 1)
	d := src.pushImage(t, "src/app:v2", img)
	dst.pushImage(t, "keep/img@"+d.String(), img)
	dst.pushImage(t, "keep/img:frozen", randomImage(t, 1))
	dst.setHook(immutableTag("keep/img", "frozen"))

	c := src.copier(t)
	_, err := c.Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+src.host+"/src/app:v2"), Dest: imageRef(t, "docker://"+dst.host+"/keep/img:stable"),
		DestTags: []string{"frozen"}, Retry: testRetry(),
		Remove: func(ctx context.Context, o Owned) error { return c.Delete(ctx, DeleteJob{Owned: o}) },
	})
	if err == nil {
		t.Fatal("copy succeeded although a DestTag is immutable")
	}
	if _, err := remote.Head(dst.ref(t, "keep/img@"+d.String()), dst.remoteOpts()...); err != nil {
		t.Fatalf("the image that was in the repository before the copy is gone after its undo: %v", err)
	}
	if !strings.Contains(err.Error(), "except [stable]") {
		t.Errorf("error does not say that stable was left: %v", err)
	}
}

// The undo touches a tag only while it holds what this copy wrote. Another deployment (Y)
// shares "latest" and writes it after this copy did, and before this copy fails: Y's
// "latest" stays, whether it was new (the undo would remove it, and on the distribution API
// Y's manifest with it) or held an older image (the undo would put that back over Y).
func TestUndoLeavesAConcurrentWritersTag(t *testing.T) {
	for _, earlier := range []bool{false, true} {
		name := "new tag"
		if earlier {
			name = "tag held an older image"
		}
		t.Run(name, func(t *testing.T) {
			src, dst := newDistRegistry(t), newDistRegistry(t)
			src.pushImage(t, "src/app:v2", randomImage(t, 1))
			if earlier {
				dst.pushImage(t, "keep/img:latest", randomImage(t, 1))
			}
			dst.pushImage(t, "keep/img:frozen", randomImage(t, 1))
			theirs := randomImage(t, 1)
			refuse := immutableTag("keep/img", "frozen")
			dst.setHook(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodPut && r.URL.Path == "/v2/keep/img/manifests/frozen" {
					// Y deploys between this copy's tag and its failure.
					if err := remote.Write(dst.ref(t, "keep/img:latest"), theirs, dst.remoteOpts()...); err != nil {
						t.Errorf("the other writer's push: %v", err)
					}
				}
				return refuse(w, r)
			})
			c := src.copier(t)
			_, err := c.Copy(context.Background(), Job{
				Src: imageRef(t, "docker://"+src.host+"/src/app:v2"), Dest: imageRef(t, "docker://"+dst.host+"/keep/img:latest"),
				DestTags: []string{"frozen"}, Retry: testRetry(),
				Remove: func(ctx context.Context, o Owned) error { return c.Delete(ctx, DeleteJob{Owned: o}) },
			})
			if err == nil {
				t.Fatal("copy succeeded although a DestTag is immutable")
			}
			want, err := theirs.Digest()
			if err != nil {
				t.Fatal(err)
			}
			if got := dst.digestOfTag(t, "keep/img:latest"); got != want.String() {
				t.Errorf("keep/img:latest = %q after the undo, want the other writer's %s", got, want)
			}
		})
	}
}
