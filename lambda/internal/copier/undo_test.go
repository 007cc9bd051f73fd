package copier

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// immutableTag answers a manifest PUT to tag as ECR does for an immutable tag that exists.
func immutableTag(repo, tag string) func(w http.ResponseWriter, r *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || r.URL.Path != "/v2/"+repo+"/manifests/"+tag {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errors":[{"code":"TAG_INVALID","message":"The image tag '` + tag +
			`' already exists in the '` + repo + `' repository and cannot be overwritten because the repository is immutable."}]}`))
		return true
	}
}

// A copy that fails after it wrote some tags puts them back: the tag that held another
// image points there again, and a tag that did not exist is gone. Otherwise the failed
// Create owns nothing, its rollback Delete removes nothing, and the earlier image's tag
// would stay lost.
func TestFailedCopyPutsTheDestinationBack(t *testing.T) {
	src, dst := newDistRegistry(t), newDistRegistry(t)
	img := src.pushImage(t, "src/app:v2", randomImage(t, 1))
	before := dst.pushImage(t, "keep/img:1", randomImage(t, 1))
	frozen := dst.pushImage(t, "keep/img:frozen", randomImage(t, 1))
	dst.setHook(immutableTag("keep/img", "frozen"))

	removed := 0
	c := src.copier(t)
	_, err := c.Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+src.host+"/src/app:v2"), Dest: imageRef(t, "docker://"+dst.host+"/keep/img:1"),
		DestTags: []string{"new-tag", "frozen"}, Retry: testRetry(),
		Remove: func(ctx context.Context, o Owned) error {
			removed++
			return c.Delete(ctx, DeleteJob{Owned: o})
		},
	})
	if err == nil {
		t.Fatal("copy succeeded although a DestTag is immutable")
	}
	if !strings.Contains(err.Error(), "put back") {
		t.Errorf("error does not say the destination was put back: %v", err)
	}
	if !strings.Contains(err.Error(), "frozen") {
		t.Errorf("error does not name the refused tag: %v", err)
	}
	for tag, want := range map[string]string{"1": before.String(), "frozen": frozen.String(), "new-tag": ""} {
		if got := dst.digestOfTag(t, "keep/img:"+tag); got != want {
			t.Errorf("keep/img:%s = %q after the failed copy, want %q (copied %s)", tag, got, want, img)
		}
	}
	if removed != 1 {
		t.Errorf("Remove called %d times, want once (the new tag)", removed)
	}
}
