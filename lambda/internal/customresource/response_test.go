package customresource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// failingWork is work that fails with err; succeedingWork is work that succeeds.
func failingWork(err error) Work {
	return func(context.Context, Request) (Result, error) { return Result{}, err }
}

func succeedingWork() Work {
	return func(context.Context, Request) (Result, error) { return Result{}, nil }
}

// slack is what send may take beyond the Lambda deadline: scheduling and
// connection teardown, not another attempt or backoff.
const slack = 500 * time.Millisecond

// countingServer answers every PUT with status (0: stall until the client gives up).
func countingServer(t *testing.T, status int) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if status == 0 {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv, &n
}

func failedResponse() Response {
	return Response{Status: "FAILED", Reason: "boom", PhysicalResourceID: "id", StackID: "s", RequestID: "r", LogicalResourceID: "l"}
}

// A stalled ResponseURL used to get 4 attempts of the client's full timeout each,
// running far past the Lambda deadline.
func TestSendStopsAtTheLambdaDeadline(t *testing.T) {
	srv, n := countingServer(t, 0)
	client := &http.Client{Timeout: 3 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()

	err := send(ctx, client, srv.URL+"/presigned", failedResponse())
	if err == nil {
		t.Fatal("a stalled PUT reported success")
	}
	if late := time.Since(deadline); late > slack {
		t.Errorf("send returned %s after the Lambda deadline (err: %v)", late.Round(time.Millisecond), err)
	}
	if n.Load() < 1 {
		t.Error("no attempt was made")
	}
}

// Backoff sleeps that would end after the deadline are not started.
func TestSendDoesNotRetryPastTheDeadline(t *testing.T) {
	srv, n := countingServer(t, http.StatusInternalServerError)
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()

	err := send(ctx, &http.Client{Timeout: 30 * time.Second}, srv.URL, failedResponse())
	var se statusError
	if !errors.As(err, &se) || se.code != http.StatusInternalServerError {
		t.Fatalf("err = %v, want the 500 of the last attempt", err)
	}
	if !strings.Contains(err.Error(), "Lambda deadline") {
		t.Errorf("the error does not say why retrying stopped: %v", err)
	}
	if late := time.Since(deadline); late > slack {
		t.Errorf("send returned %s after the Lambda deadline", late.Round(time.Millisecond))
	}
	// 500ms backoff fits before the deadline, the following 1s does not.
	if got := n.Load(); got != 2 {
		t.Errorf("%d attempts, want 2", got)
	}
}

// However little time is left, CloudFormation gets one attempt.
func TestSendAlwaysAttemptsOnce(t *testing.T) {
	for _, tc := range []struct {
		status   int
		wantErr  bool
		attempts int32
	}{{http.StatusOK, false, 1}, {http.StatusInternalServerError, true, 1}} {
		srv, n := countingServer(t, tc.status)
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		err := send(ctx, &http.Client{Timeout: 30 * time.Second}, srv.URL, failedResponse())
		cancel()
		if (err != nil) != tc.wantErr || n.Load() != tc.attempts {
			t.Errorf("HTTP %d past the deadline: err = %v, %d attempts, want %d", tc.status, err, n.Load(), tc.attempts)
		}
	}
}

// Without a deadline (tests, direct calls) the retries are as before.
func TestSendWithoutDeadlineRetriesAll(t *testing.T) {
	srv, n := countingServer(t, http.StatusServiceUnavailable)
	if err := send(context.Background(), &http.Client{Timeout: time.Second}, srv.URL, failedResponse()); err == nil {
		t.Fatal("no error")
	}
	if got := n.Load(); got != putAttempts {
		t.Errorf("%d attempts, want %d", got, putAttempts)
	}
}

// Handle passes the invocation's context, with the Lambda deadline, to send.
func TestHandleAnswerIsBoundedByTheLambdaDeadline(t *testing.T) {
	srv, _ := countingServer(t, 0)
	h := newHandler(succeedingWork())
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	if err := h.Handle(ctx, event(srv.URL, cfn.RequestCreate)); err == nil {
		t.Fatal("a stalled ResponseURL reported success")
	}
	if late := time.Since(deadline); late > slack {
		t.Errorf("Handle returned %s after the Lambda deadline", late.Round(time.Millisecond))
	}
}

// Wrapped errors keep their meaning: a 4xx is final and a bad URL is never retried.
func TestRetryablePutSeesWrappedErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("attempt 1: %w", statusError{code: http.StatusForbidden}), false},
		{fmt.Errorf("attempt 1: %w", statusError{code: http.StatusBadGateway}), true},
		{fmt.Errorf("attempt 1: %w", statusError{code: http.StatusTooManyRequests}), true},
		{fmt.Errorf("attempt 1: %w", errBadURL), false},
		{statusError{code: http.StatusNotFound}, false},
		{errors.New("response PUT: connection reset by peer"), true},
	} {
		if got := retryablePut(tc.err); got != tc.want {
			t.Errorf("retryablePut(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// Shortening a long Reason must not cut off the pointer to the log stream,
// which is where the whole error can be read.
func TestTruncatedReasonKeepsLogStreamPointer(t *testing.T) {
	const stream = "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef"
	saved := lambdacontext.LogStreamName
	lambdacontext.LogStreamName = stream
	t.Cleanup(func() { lambdacontext.LogStreamName = saved })
	pointer := " (log stream: " + stream + ")"

	rec := newRecorder(t)
	huge := "copying layer: " + strings.Repeat("é\"<\x01", 4000)
	h := newHandler(failingWork(errors.New(huge)))
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "a"})
	if err := h.Handle(ctx, event(rec.srv.URL, cfn.RequestCreate)); err != nil {
		t.Fatal(err)
	}
	put := rec.only(t)
	if len(put.raw) > MaxBody {
		t.Errorf("body is %d bytes, over MaxBody %d", len(put.raw), MaxBody)
	}
	if !strings.HasSuffix(put.body.Reason, pointer) {
		t.Errorf("the log stream pointer was cut off: ...%q", put.body.Reason[max(len(put.body.Reason)-120, 0):])
	}
	if !strings.HasPrefix(put.body.Reason, "copying layer: ") || !strings.Contains(put.body.Reason, "[truncated]"+pointer) {
		t.Errorf("the error text was not shortened ahead of the pointer: ...%q", put.body.Reason[max(len(put.body.Reason)-120, 0):])
	}
}

func TestBodyAppendsLogPointer(t *testing.T) {
	r := failedResponse()
	r.LogPointer = " (log stream: s)"
	b, err := r.Body()
	if err != nil || !strings.Contains(string(b), `"Reason":"boom (log stream: s)"`) || strings.Contains(string(b), "LogPointer") {
		t.Errorf("short reason: %s, %v", b, err)
	}
	// A pointer too long to fit with anything gives way to the error text.
	r.Reason = strings.Repeat("x", 5000)
	r.LogPointer = strings.Repeat("p", 5000)
	if b, err = r.Body(); err != nil || len(b) > MaxBody || !strings.Contains(string(b), "xxx [truncated]") {
		t.Errorf("absurd pointer: %d bytes, %v", len(b), err)
	}
}
