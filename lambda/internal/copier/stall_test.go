package copier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// The documented N, the one the AWS clients use too, and what a total stall then costs with
// the default retry policy: well within 3 minutes.
func TestStallTimeoutDefault(t *testing.T) {
	if StallTimeout != 40*time.Second {
		t.Errorf("StallTimeout = %v; the comment on it documents 40s", StallTimeout)
	}
	if awsenv.IdleTimeout != StallTimeout {
		t.Errorf("awsenv.IdleTimeout = %v, StallTimeout = %v: one threshold for registries and AWS", awsenv.IdleTimeout, StallTimeout)
	}
	if got := stallTimeoutOf(context.Background()); got != StallTimeout {
		t.Errorf("default attempt idle timeout %v, want StallTimeout", got)
	}
	r := props.DefaultRetry
	worst := time.Duration(r.NumAttempts) * StallTimeout
	for n := 1; n < r.NumAttempts; n++ {
		worst += Backoff(r, n, func() float64 { return 0.999999 })
	}
	if worst > 150*time.Second {
		t.Errorf("a total stall costs up to %v with %d attempts; it must stay well within 3 minutes", worst, r.NumAttempts)
	}
}

func TestStallWatchActivityKeepsItAlive(t *testing.T) {
	ctx, w := newStallWatch(context.Background(), 200*time.Millisecond, "reg.example")
	defer w.stop()
	for end := time.Now().Add(700 * time.Millisecond); time.Now().Before(end); {
		time.Sleep(40 * time.Millisecond)
		w.touch()
	}
	if ctx.Err() != nil {
		t.Fatalf("cancelled despite activity every 40ms: %v", context.Cause(ctx))
	}
	// A call that keeps answering is activity too.
	o := w.op("reg.example")
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); {
		o.wait(0)
		time.Sleep(40 * time.Millisecond)
		o.got()
	}
	if ctx.Err() != nil {
		t.Fatalf("cancelled despite answers every 40ms: %v", context.Cause(ctx))
	}
}

func TestStallWatchSilenceTripsNamingTheHost(t *testing.T) {
	start := time.Now()
	ctx, w := newStallWatch(context.Background(), 150*time.Millisecond, "src.example or dest.example")
	defer w.stop()
	select {
	case <-ctx.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("not cancelled after 3s of silence")
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > time.Second {
		t.Errorf("cancelled after %v, want about 150ms", d)
	}
	cause := context.Cause(ctx)
	if !errors.Is(cause, errs.ErrStalled) || cause.Error() != "stalled: no response from src.example or dest.example for 150ms" {
		t.Errorf("cause %q", cause)
	}
	if ok, _ := Retryable(cause); !ok {
		t.Error("a stall is not retryable")
	}
}

func TestStallWatchNamesTheOldestWaitingCall(t *testing.T) {
	ctx, w := newStallWatch(context.Background(), 200*time.Millisecond, "src.example or dest.example")
	defer w.stop()
	first := w.op("dest.example")
	first.wait(0)
	time.Sleep(20 * time.Millisecond)
	w.op("src.example").wait(0)
	// A call that answered is not waiting any more.
	answered := w.op("other.example")
	answered.wait(0)
	answered.got()
	<-ctx.Done()
	if got := context.Cause(ctx).Error(); !strings.Contains(got, "no response from dest.example for") {
		t.Errorf("cause %q, want the host waited on longest", got)
	}
	// S3 requests (awsenv.Activity): a sent request is not activity, the answer is.
	ctx2, w2 := newStallWatch(context.Background(), 150*time.Millisecond, "s3://bucket")
	defer w2.stop()
	done := w2.Waiting("bucket.s3.example")
	time.Sleep(100 * time.Millisecond)
	_ = w2.Waiting("bucket.s3.example") // an SDK retry: no activity
	<-ctx2.Done()
	done(false)
	if got := context.Cause(ctx2).Error(); !strings.Contains(got, "no response from bucket.s3.example for 150ms") {
		t.Errorf("cause %q", got)
	}
}

func TestStallWatchCommitGrace(t *testing.T) {
	ctx, w := newStallWatch(context.Background(), 100*time.Millisecond, "dest.example")
	defer w.stop()
	o := w.op("dest.example")
	o.wait(commitGrace(15 << 20)) // 0.3s for 15 MiB at 50 MiB/s
	time.Sleep(250 * time.Millisecond)
	if ctx.Err() != nil {
		t.Fatalf("a commit within its grace tripped: %v", context.Cause(ctx))
	}
	<-ctx.Done()
	if got := context.Cause(ctx).Error(); !strings.Contains(got, "no response from dest.example for 400ms") {
		t.Errorf("cause %q", got)
	}
	if g := commitGrace(1 << 30); g < 20*time.Second || g > 21*time.Second {
		t.Errorf("commitGrace(1 GiB) = %v, want about 20s", g)
	}
}

func TestStallWatchStopReleases(t *testing.T) {
	ctx, w := newStallWatch(context.Background(), 100*time.Millisecond, "reg.example")
	w.stop()
	if ctx.Err() == nil {
		t.Fatal("stop did not release the context")
	}
	time.Sleep(250 * time.Millisecond) // the timer must not fire after stop
	if cause := context.Cause(ctx); errors.Is(cause, errs.ErrStalled) {
		t.Errorf("cause after stop: %v", cause)
	}
	// Nil watches (no guarded attempt) are no-ops.
	var nw *stallWatch
	nw.touch()
	nw.stop()
	nw.op("x").wait(0)
	nw.op("x").got()
	if stallReport(context.Background()) != nil {
		t.Error("a report writer outside an attempt")
	}
}

func TestStallGuard(t *testing.T) {
	ctx := withStallTimeout(context.Background(), 100*time.Millisecond)
	// The attempt's error (here what containers/image returns for a cancelled request)
	// becomes the stall, which is retried; its text is kept.
	err := stallGuard("reg.example", func(ctx context.Context) error {
		<-ctx.Done()
		return errors.New("pinging container registry reg.example: context canceled")
	})(ctx)
	if !errors.Is(err, errs.ErrStalled) || errors.Is(err, context.Canceled) ||
		err.Error() != "stalled: no response from reg.example for 100ms (pinging container registry reg.example: context canceled)" {
		t.Errorf("err %q", err)
	}
	if ok, why := Retryable(err); !ok || why != "stalled" {
		t.Errorf("Retryable = %v, %q", ok, why)
	}
	// A quick attempt is untouched, and its context is released afterwards.
	var inner context.Context
	want := errors.New("boom")
	if err := stallGuard("reg.example", func(ctx context.Context) error { inner = ctx; return want })(ctx); err != want {
		t.Errorf("err %v", err)
	}
	if inner.Err() == nil {
		t.Error("the attempt's context outlives it")
	}
	// With retries: three stalled attempts, then the stall.
	var attempts atomic.Int32
	start := time.Now()
	err = withRetry(ctx, props.Retry{NumAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}, "test",
		stallGuard("reg.example", func(ctx context.Context) error {
			attempts.Add(1)
			<-ctx.Done()
			return ctx.Err()
		}))
	if attempts.Load() != 3 || !errors.Is(err, errs.ErrStalled) || time.Since(start) > 2*time.Second {
		t.Errorf("%d attempts in %v, err %v", attempts.Load(), time.Since(start), err)
	}
	// No hosts (local archives): not watched.
	if err := stallGuard("", func(ctx context.Context) error {
		if stallWatchOf(ctx) != nil {
			return errors.New("watched")
		}
		return nil
	})(ctx); err != nil {
		t.Error(err)
	}
}

// A delete from a registry that answers each request well within N, but reads so many tags
// that it takes longer than N in all, is slow, not stalled: each request is activity.
func TestDeleteReadingManyTagsIsNotStalled(t *testing.T) {
	const idle = 400 * time.Millisecond
	reg := newDistRegistry(t)
	ctx := context.Background()
	mine := reg.pushImage(t, "app:v1", randomImage(t, 1))
	other := randomImage(t, 1)
	for i := range 24 {
		reg.pushImage(t, fmt.Sprintf("app:other-%02d", i), other)
	}
	// Every manifest read waits 150 ms: the delete reads v1, then the 24 other tags 8 at a
	// time, then the manifest once more before its DELETE; about 750 ms in all.
	reg.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.URL.Path, "/manifests/") {
			time.Sleep(150 * time.Millisecond)
		}
		return false
	})
	start := time.Now()
	err := reg.copier(t).Delete(withStallTimeout(ctx, idle), DeleteJob{Owned: Owned{Repo: named(t, reg.host+"/app"),
		Digest: digest.Digest(mine.String()), Tags: []string{"v1"}}})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("delete after %v: %v", took, err)
	}
	if took < 2*idle {
		t.Errorf("the delete took %v, not more than the idle timeout %v: the test did not exercise it", took, idle)
	}
	reg.setHook(nil)
	if got := reg.digestOfTag(t, "app:v1"); got != "" {
		t.Errorf("app:v1 still points at %s", got)
	}
}
