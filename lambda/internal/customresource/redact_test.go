package customresource

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
)

// A failure that quotes a presigned blob URL (ECR redirects layer GETs to S3) must reach
// CloudFormation without the URL's signature, credential or session token.
func TestReasonIsRedacted(t *testing.T) {
	rec := newRecorder(t)
	const presigned = "https://bucket.s3.amazonaws.com/layer?X-Amz-Credential=ASIAREASON%2F20240101&X-Amz-Security-Token=sessiontok3n&X-Amz-Signature=feedface00"
	h := newHandler(failingWork(fmt.Errorf("reading blob sha256:abc: %w", &url.Error{Op: "Get", URL: presigned, Err: fmt.Errorf("connection reset by peer")})))
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

// Other registries' blob backends sign under other names (Azure SAS: sig, GCS:
// X-Goog-*); the Reason must lose the whole query of any URL it quotes.
func TestReasonLosesEveryURLQuery(t *testing.T) {
	rec := newRecorder(t)
	urls := []string{
		"https://pkg-containers.githubusercontent.com/ghcr1/blobs/sha256:ab?sv=2019-12-12&se=2024&sp=r&sig=AzSasS1g%3D",
		"https://storage.googleapis.com/artifacts/b?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa%40p.iam.gserviceaccount.com" +
			"&X-Goog-Signature=g00gs1g",
		"https://bucket.s3.amazonaws.com/layer?X-Amz-Signature=am4zs1g&X-Amz-Security-Token=am4ztok",
	}
	var err error = errors.New("giving up")
	for _, u := range urls {
		err = fmt.Errorf("%w; %w", &url.Error{Op: "Get", URL: u, Err: errors.New("dial tcp 10.0.0.9:443: i/o timeout")}, err)
	}
	h := newHandler(failingWork(err))
	if err := h.Handle(context.Background(), event(rec.srv.URL, cfn.RequestCreate)); err != nil {
		t.Fatal(err)
	}
	put := rec.only(t)
	for _, s := range []string{"AzSasS1g", "2019-12-12", "gserviceaccount", "g00gs1g", "GOOG4", "am4zs1g", "am4ztok"} {
		if strings.Contains(string(put.raw), s) {
			t.Errorf("%q reached CloudFormation: %s", s, put.raw)
		}
	}
	for _, keep := range []string{"githubusercontent.com/ghcr1/blobs/sha256:ab?REDACTED", "storage.googleapis.com/artifacts/b?REDACTED", "i/o timeout"} {
		if !strings.Contains(put.body.Reason, keep) {
			t.Errorf("%q missing from the Reason: %s", keep, put.body.Reason)
		}
	}
}
