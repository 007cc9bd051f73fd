package copier_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
	"github.com/cdk-ecr-deployment/handler/internal/copier"
	"github.com/cdk-ecr-deployment/handler/internal/customresource"
	"github.com/cdk-ecr-deployment/handler/internal/deploy"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// A panic in a blob worker (a goroutine of the copier, not the handler's work goroutine)
// reaches CloudFormation as a FAILED response naming the internal error, through the real
// handler (cfn.Handler running deploy.Deployer, wired as main.go wires them), and the process
// lives on to serve the next event.
func TestBlobWorkerPanicGivesAFailedResponse(t *testing.T) {
	src, dst := testenv.StartRegistry(t), testenv.StartRegistry(t)
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(src.Host + "/src/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(src.Transport())); err != nil {
		t.Fatal(err)
	}

	var (
		mu   sync.Mutex
		got  []customresource.Response
		recv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var resp customresource.Response
			if err := json.NewDecoder(r.Body).Decode(&resp); err != nil {
				t.Errorf("response body: %v", err)
			}
			mu.Lock()
			got = append(got, resp)
			mu.Unlock()
		}))
	)
	defer recv.Close()

	d := &deploy.Deployer{Auth: &auth.Resolver{}, Copier: copier.NewForTest(copier.Options{}, src.TLSConfig())}
	h := customresource.New(d.Run, deploy.ProvisionalID)
	event := func(id string) cfn.Event {
		return cfn.Event{
			RequestType: cfn.RequestCreate, RequestID: id, LogicalResourceID: "Deploy", StackID: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
			ResponseURL: recv.URL + "/response?X-Amz-Signature=sig",
			ResourceProperties: map[string]any{
				"SrcImage": "docker://" + src.Host + "/src/app:v1", "DestImage": "docker://" + dst.Host + "/dst/app:v1",
			},
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	copier.SetBlobHookForTest(func(info types.BlobInfo) { panic("test panic in the worker of blob " + info.Digest.String()) })
	t.Cleanup(func() { copier.SetBlobHookForTest(nil) })
	if err := h.Handle(ctx, event("panics")); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	copier.SetBlobHookForTest(nil)
	if err := h.Handle(ctx, event("after")); err != nil {
		t.Fatalf("Handle after the panic: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("%d responses, want 2: %+v", len(got), got)
	}
	if r := got[0]; r.Status != "FAILED" || !strings.Contains(r.Reason, "internal error") ||
		!strings.Contains(r.Reason, "test panic in the worker of blob") || !strings.Contains(r.Reason, "this is a bug in cdk-ecr-deployment") {
		t.Errorf("response to the panicking copy: %s %q, want FAILED naming the internal error", r.Status, r.Reason)
	}
	if r := got[1]; r.Status != "SUCCESS" {
		t.Errorf("the next event after the panic: %s %q, want SUCCESS", r.Status, r.Reason)
	}
}
