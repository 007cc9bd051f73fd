package customresource

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
)

// recorder is a ResponseURL endpoint that records every PUT.
type recorder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	puts  []recorded
	fails int // answer 500 to this many PUTs first
}

type recorded struct {
	body        Response
	raw         []byte
	contentType []string
	method      string
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.fails > 0 {
			r.fails--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var resp Response
		if err := json.Unmarshal(raw, &resp); err != nil {
			t.Errorf("response body is not JSON: %v", err)
		}
		r.puts = append(r.puts, recorded{body: resp, raw: raw, contentType: req.Header.Values("Content-Type"), method: req.Method})
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) only(t *testing.T) recorded {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.puts) != 1 {
		t.Fatalf("%d responses recorded, want exactly 1", len(r.puts))
	}
	return r.puts[0]
}

func event(url string, rt cfn.RequestType) cfn.Event {
	return cfn.Event{
		RequestType: rt, RequestID: "req-1", ResponseURL: url + "/presigned?X-Amz-Signature=secret",
		LogicalResourceID: "Deploy", StackID: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
		ResourceProperties: map[string]any{
			"ServiceToken": "x", "SrcImage": "docker://nginx:1", "DestImage": "docker://r.example.com/app:v1",
		},
	}
}

func newHandler(work Work) *Handler { return New(work, nil) }

func TestSuccessResponse(t *testing.T) {
	rec := newRecorder(t)
	var gotType string
	h := newHandler(func(ctx context.Context, req Request) (Result, error) {
		gotType = string(req.Type)
		return Result{PhysicalID: "r.example.com/app:v1@sha256:abc",
			Data: map[string]string{"ImageDigest": "sha256:abc", "ImageUri": "r.example.com/app@sha256:abc"}}, nil
	})
	if err := h.Handle(context.Background(), event(rec.srv.URL, cfn.RequestCreate)); err != nil {
		t.Fatal(err)
	}
	put := rec.only(t)
	want := Response{Status: "SUCCESS", PhysicalResourceID: "r.example.com/app:v1@sha256:abc", StackID: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
		RequestID: "req-1", LogicalResourceID: "Deploy", Data: map[string]string{"ImageDigest": "sha256:abc", "ImageUri": "r.example.com/app@sha256:abc"}}
	if put.method != http.MethodPut {
		t.Errorf("method %s", put.method)
	}
	if len(put.contentType) != 1 || put.contentType[0] != "" {
		t.Errorf("Content-Type header = %q, want one empty value (presigned S3 URL)", put.contentType)
	}
	if put.body.Status != want.Status || put.body.PhysicalResourceID != want.PhysicalResourceID || put.body.StackID != want.StackID ||
		put.body.RequestID != want.RequestID || put.body.LogicalResourceID != want.LogicalResourceID ||
		put.body.Data["ImageDigest"] != "sha256:abc" || put.body.Data["ImageUri"] != want.Data["ImageUri"] || put.body.Reason != "" {
		t.Errorf("body = %+v, want %+v", put.body, want)
	}
	if gotType != "Create" {
		t.Errorf("work saw %q", gotType)
	}
}

func TestErrorResponse(t *testing.T) {
	rec := newRecorder(t)
	h := newHandler(func(context.Context, Request) (Result, error) {
		return Result{Data: map[string]string{"ImageDigest": "x"}}, errors.New("unauthorized pulling docker://nginx:1: check SrcCreds")
	})
	if err := h.Handle(context.Background(), event(rec.srv.URL, cfn.RequestCreate)); err != nil {
		t.Fatal(err)
	}
	put := rec.only(t)
	if put.body.Status != "FAILED" || !strings.Contains(put.body.Reason, "check SrcCreds") || put.body.Data != nil {
		t.Errorf("body = %+v", put.body)
	}
	if put.body.PhysicalResourceID == "" {
		t.Error("empty PhysicalResourceId on failure")
	}
}

func TestPanicGivesFailed(t *testing.T) {
	rec := newRecorder(t)
	h := newHandler(func(context.Context, Request) (Result, error) {
		var m map[string]int
		m["boom"]++ // nil map write
		return Result{}, nil
	})
	if err := h.Handle(context.Background(), event(rec.srv.URL, cfn.RequestUpdate)); err != nil {
		t.Fatal(err)
	}
	put := rec.only(t)
	if put.body.Status != "FAILED" || !strings.Contains(put.body.Reason, "panic") {
		t.Errorf("body = %+v", put.body)
	}
}

func TestResponseRetriedOn5xx(t *testing.T) {
	rec := newRecorder(t)
	rec.fails = 2
	h := newHandler(func(context.Context, Request) (Result, error) { return Result{}, nil })
	if err := h.Handle(context.Background(), event(rec.srv.URL, cfn.RequestCreate)); err != nil {
		t.Fatal(err)
	}
	if rec.only(t).body.Status != "SUCCESS" {
		t.Error("not delivered")
	}
}

func TestLongReasonIsTruncated(t *testing.T) {
	rec := newRecorder(t)
	long := strings.Repeat("é\"<", 5000)
	h := newHandler(func(context.Context, Request) (Result, error) {
		return Result{}, errors.New(long)
	})
	if err := h.Handle(context.Background(), event(rec.srv.URL, cfn.RequestCreate)); err != nil {
		t.Fatal(err)
	}
	put := rec.only(t)
	if len(put.raw) > 4096 {
		t.Errorf("body is %d bytes, over CloudFormation's 4096", len(put.raw))
	}
	if !strings.HasSuffix(put.body.Reason, "[truncated]") || len(put.body.Reason) < 500 {
		t.Errorf("reason not sensibly truncated: %d bytes", len(put.body.Reason))
	}
}

func TestWorkDeadline(t *testing.T) {
	rec := newRecorder(t)
	var sawDeadline time.Time
	h := newHandler(func(ctx context.Context, _ Request) (Result, error) {
		sawDeadline, _ = ctx.Deadline()
		<-ctx.Done() // a stalled copy that does honour its context
		return Result{}, ctx.Err()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	lambdaDeadline, _ := ctx.Deadline()
	if err := h.Handle(ctx, event(rec.srv.URL, cfn.RequestCreate)); err != nil {
		t.Fatal(err)
	}
	put := rec.only(t)
	if put.body.Status != "FAILED" || !strings.Contains(put.body.Reason, "deadline") {
		t.Errorf("body = %+v", put.body)
	}
	if !sawDeadline.Before(lambdaDeadline) {
		t.Errorf("work deadline %v is not before the Lambda deadline %v", sawDeadline, lambdaDeadline)
	}
}

func TestStuckWorkStillAnswers(t *testing.T) {
	rec := newRecorder(t)
	block := make(chan struct{})
	defer close(block)
	h := newHandler(func(context.Context, Request) (Result, error) {
		<-block // ignores its context entirely
		return Result{}, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := h.Handle(ctx, event(rec.srv.URL, cfn.RequestCreate)); err != nil {
		t.Fatal(err)
	}
	if put := rec.only(t); put.body.Status != "FAILED" || !strings.Contains(put.body.Reason, "deadline") {
		t.Errorf("body = %+v", put.body)
	}
	if ctx.Err() != nil {
		t.Error("the answer came only after the Lambda deadline")
	}
}

func TestMargin(t *testing.T) {
	for _, tc := range []struct{ remaining, want time.Duration }{
		{15 * time.Minute, 60 * time.Second},
		{5 * time.Minute, 30 * time.Second},
		{20 * time.Second, 5 * time.Second},
		{4 * time.Second, 2 * time.Second},
	} {
		if got := Margin(tc.remaining); got != tc.want {
			t.Errorf("Margin(%v) = %v, want %v", tc.remaining, got, tc.want)
		}
	}
}

// A work that gives no id (a failure before it decided one, a timeout, a panic) gets the id
// the resource had, or for a Create the work's provisional id, or a hash of the stack and
// logical id: never an empty id.
func TestFallbackID(t *testing.T) {
	provisional := func(raw map[string]any) string { s, _ := raw["DestImage"].(string); return s }
	h := New(nil, provisional)
	props := map[string]any{"DestImage": "r.io/a:1"}
	cases := []struct {
		name string
		ev   cfn.Event
		want string
	}{
		{"create", cfn.Event{RequestType: cfn.RequestCreate, ResourceProperties: props}, "r.io/a:1"},
		{"update keeps the old id", cfn.Event{RequestType: cfn.RequestUpdate, PhysicalResourceID: "2024/01/01/[$LATEST]abc",
			ResourceProperties: props}, "2024/01/01/[$LATEST]abc"},
		{"delete echoes", cfn.Event{RequestType: cfn.RequestDelete, PhysicalResourceID: "whatever", ResourceProperties: props}, "whatever"},
	}
	for _, tc := range cases {
		if got := h.fallbackID(tc.ev); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	for _, h := range []*Handler{h, New(nil, nil)} {
		a := h.fallbackID(cfn.Event{RequestType: cfn.RequestCreate, StackID: "s", LogicalResourceID: "L"})
		b := h.fallbackID(cfn.Event{RequestType: cfn.RequestCreate, StackID: "s", LogicalResourceID: "L"})
		if a != b || !strings.HasPrefix(a, "ecr-deployment-") {
			t.Errorf("fallback not deterministic: %q %q", a, b)
		}
	}
}
