package cfn

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// A failure that quotes a presigned blob URL (ECR redirects layer GETs to S3) must reach
// CloudFormation without the URL's signature, credential or session token.
func TestReasonIsRedacted(t *testing.T) {
	rec := newRecorder(t)
	const presigned = "https://bucket.s3.amazonaws.com/layer?X-Amz-Credential=ASIAREASON%2F20240101&X-Amz-Security-Token=sessiontok3n&X-Amz-Signature=feedface00"
	h := New(func(context.Context, string, *props.Properties) (map[string]string, error) {
		return nil, fmt.Errorf("reading blob sha256:abc: %w", &url.Error{Op: "Get", URL: presigned, Err: fmt.Errorf("connection reset by peer")})
	})
	if err := h.Handle(context.Background(), event(rec.srv.URL, cfn.RequestCreate)); err != nil {
		t.Fatal(err)
	}
	put := rec.only(t)
	if put.body.Status != "FAILED" || !strings.Contains(put.body.Reason, "connection reset by peer") || !strings.Contains(put.body.Reason, "sha256:abc") {
		t.Fatalf("reason lost its substance: %+v", put.body)
	}
	for _, s := range []string{"ASIAREASON", "sessiontok3n", "feedface00"} {
		if strings.Contains(string(put.raw), s) {
			t.Errorf("%q reached CloudFormation: %s", s, put.raw)
		}
	}
}
