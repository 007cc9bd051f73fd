package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
	"github.com/cdk-ecr-deployment/handler/internal/customresource"
	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/logging"
)

// A creds value without ':' is read as a secret name, and a bare registry token is such a
// value. When no secret has that name, neither the error (the Reason) nor any log line of
// the request may quote the value: one shaped like a GitHub token, and one no redactor
// could recognise.
func TestBareTokenCredsAreNeverEchoed(t *testing.T) {
	var logs bytes.Buffer
	logging.Setup(&logs, "debug")
	t.Cleanup(func() { logging.Setup(io.Discard, "info") })
	r := &Resolver{LoadConfig: awsenv.Load}
	for _, tc := range []struct{ creds, property string }{
		{"ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "SrcCreds"},
		{"Zx9opaqueRegistryToken0001", "DestCreds"},
	} {
		t.Run(tc.property, func(t *testing.T) {
			logs.Reset()
			_, err := r.Resolve(context.Background(), Request{Creds: tc.creds, Property: tc.property, Host: "ghcr.io", Role: Source})
			want := "the secret named in " + tc.property + " was not found in Secrets Manager (us-east-1)"
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), tc.creds) {
				t.Fatalf("err %v: want %q, never the value", err, want)
			}
			var got customresource.Response
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = json.NewDecoder(r.Body).Decode(&got)
			}))
			defer srv.Close()
			work := func(ctx context.Context, _ customresource.Request) (customresource.Result, error) {
				_, err := r.Resolve(ctx, Request{Creds: tc.creds, Property: tc.property, Host: "ghcr.io", Role: Source})
				return customresource.Result{}, err
			}
			ev := cfn.Event{RequestType: cfn.RequestCreate, RequestID: "r", LogicalResourceID: "L", StackID: "S", ResponseURL: srv.URL,
				ResourceProperties: map[string]any{tc.property: tc.creds}}
			if err := customresource.New(work, nil).Handle(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			if got.Status != "FAILED" || !strings.Contains(got.Reason, want) {
				t.Errorf("response %+v: want FAILED with %q", got, want)
			}
			if strings.Contains(got.Reason, tc.creds) || strings.Contains(logs.String(), tc.creds) {
				t.Errorf("the creds value reached the Reason or the log:\nReason: %s\nlog:\n%s", got.Reason, logs.String())
			}
			if !strings.Contains(logs.String(), "request failed") {
				t.Errorf("the failure was not logged:\n%s", logs.String())
			}
			if !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("err %v is not errs.ErrNotFound", err)
			}
		})
	}
}
