package deploy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/cdk-ecr-deployment/handler/internal/customresource"
)

// Invalid properties fail a Create (the Reason names the property) and let a Delete
// succeed (nothing can have been created from them), through the real handler; the copier
// is never reached (the Deployer has none).
func TestInvalidPropertiesFailCreateButNotDelete(t *testing.T) {
	for _, rt := range []cfn.RequestType{cfn.RequestCreate, cfn.RequestDelete} {
		var got customresource.Response
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewDecoder(r.Body).Decode(&got)
		}))
		ev := cfn.Event{
			RequestType: rt, RequestID: "r", LogicalResourceID: "Deploy", StackID: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
			ResponseURL:        srv.URL + "/presigned",
			ResourceProperties: map[string]any{"SrcImage": "docker://a", "Typo": "x"},
		}
		if rt == cfn.RequestDelete {
			ev.PhysicalResourceID = "old-id"
		}
		if err := customresource.New((&Deployer{}).Run, ProvisionalID).Handle(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		switch rt {
		case cfn.RequestCreate:
			if got.Status != "FAILED" || !strings.Contains(got.Reason, `"Typo"`) {
				t.Errorf("create: %+v", got)
			}
			if !strings.HasPrefix(got.PhysicalResourceID, "ecr-deployment-") {
				t.Errorf("create fallback id = %q", got.PhysicalResourceID)
			}
		case cfn.RequestDelete:
			if got.Status != "SUCCESS" || got.PhysicalResourceID != "old-id" {
				t.Errorf("delete: %+v", got)
			}
		}
	}
}

// The provisional id of a failed Create is the destination without any digest: it owns
// nothing, so the rollback Delete after a failed Create removes nothing.
func TestProvisionalID(t *testing.T) {
	for in, want := range map[string]string{
		"docker://r.io/a:1":   "r.io/a:1",
		" docker://R.IO/a:1 ": "r.io/a:1",
		"docker://r.io/a@sha256:" + strings.Repeat("a", 64): "r.io/a",
	} {
		if got := ProvisionalID(map[string]any{"DestImage": in}); got != want {
			t.Errorf("ProvisionalID(%q) = %q, want %q", in, got, want)
		}
	}
	if got := ProvisionalID(map[string]any{}); got != "" {
		t.Errorf("no DestImage: %q", got)
	}
}
