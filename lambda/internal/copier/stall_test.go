package copier

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/props"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
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

// A source registry that completes TLS and then never answers: the copy fails with the
// stall, naming the host, after the attempts (3 x N) instead of at the Lambda deadline.
func TestCopyFromRegistryThatNeverAnswers(t *testing.T) {
	const idle = 300 * time.Millisecond
	dst := newRegistry(t)

	release := make(chan struct{})
	var requests atomic.Int32
	hang := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	hangHost := strings.TrimPrefix(hang.URL, "https://")

	// The same with a raw TLS listener that completes the handshake and never reads or writes.
	raw, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: hang.TLS.Certificates})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	var handshakes atomic.Int32
	go func() {
		for {
			c, err := raw.Accept()
			if err != nil {
				return
			}
			go func() {
				if c.(*tls.Conn).Handshake() == nil {
					handshakes.Add(1)
				}
				<-release
				c.Close()
			}()
		}
	}()
	rawHost := raw.Addr().(*net.TCPAddr).String()

	c := dst.copier(t)
	c.opts.tlsConfig.RootCAs.AddCert(hang.Certificate())
	for _, tc := range []struct {
		name, host string
		count      func() int32
	}{{"handler never answers", hangHost, requests.Load}, {"raw TLS listener never writes", rawHost, handshakes.Load}} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := c.Copy(withStallTimeout(context.Background(), idle), Job{
				Src: "docker://" + tc.host + "/src/app:v1", Dest: "docker://" + dst.host + "/dst/app:v1",
				Retry: props.Retry{NumAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
			})
			took := time.Since(start)
			if err == nil {
				t.Fatal("copy succeeded from a registry that never answers")
			}
			if !errors.Is(err, errs.ErrStalled) || !strings.Contains(err.Error(), "no response from "+tc.host+" for 300ms") {
				t.Errorf("err %q: want errs.ErrStalled naming %s", err, tc.host)
			}
			if took < 3*idle || took > 3*idle+5*time.Second {
				t.Errorf("failed after %v, want about 3 x %v", took, idle)
			}
			if n := tc.count(); n < 3 {
				t.Errorf("%d connections answered at the TLS level, want one per attempt (3)", n)
			}
			t.Logf("%v: %v", took.Round(time.Millisecond), err)
		})
	}
}

// In the direct path the stalled call's host is named: a blob GET that never answers is the
// source's, an upload that is never answered the destination's.
func TestDirectCopyStallNamesTheStalledSide(t *testing.T) {
	const idle = 400 * time.Millisecond
	for _, side := range []string{"source blob GET", "destination upload"} {
		t.Run(side, func(t *testing.T) {
			src, dst := newRegistry(t), newRegistry(t)
			src.pushImage(t, "src/app:v1", randomImage(t, 2))
			release := make(chan struct{})
			t.Cleanup(func() { close(release) }) // before the servers close (cleanups run last first)
			block := func(w http.ResponseWriter, r *http.Request) bool {
				_, _ = io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-release:
				}
				return true
			}
			want := src.host
			if side == "source blob GET" {
				src.setHook(func(w http.ResponseWriter, r *http.Request) bool {
					if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
						return block(w, r)
					}
					return false
				})
			} else {
				want = dst.host
				dst.setHook(func(w http.ResponseWriter, r *http.Request) bool {
					if r.Method == http.MethodPatch || (r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads")) {
						return block(w, r)
					}
					return false
				})
			}
			c := src.copier(t)
			c.opts.tlsConfig.RootCAs.AddCert(dst.srv.Certificate())
			_, err := c.Copy(withStallTimeout(context.Background(), idle), Job{
				Src: "docker://" + src.host + "/src/app:v1", Dest: "docker://" + dst.host + "/dst/app:v1", Retry: testRetry(),
			})
			if !errors.Is(err, errs.ErrStalled) || !strings.Contains(err.Error(), "no response from "+want+" for") {
				t.Fatalf("err %v: want errs.ErrStalled naming %s", err, want)
			}
		})
	}
}

// A registry that trickles (a few bytes at a time, never silent for N) is slow, not stalled.
func TestTricklingRegistryIsNotStalled(t *testing.T) {
	const idle = 400 * time.Millisecond
	src, dst := newRegistry(t), newRegistry(t)
	src.pushImage(t, "src/app:v1", randomImage(t, 1))
	client := &http.Client{Transport: src.srv.Client().Transport}
	var trickled atomic.Int32
	src.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/sha256:") || r.Header.Get("X-Bypass") != "" {
			return false
		}
		// The blob's first byte comes late (but within N), then 512 bytes every 150 ms.
		time.Sleep(idle * 3 / 4)
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, src.srv.URL+r.URL.Path, nil)
		req.Header.Set("X-Bypass", "1")
		resp, err := client.Do(req)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		trickled.Add(1)
		for len(body) > 0 {
			n := min(512, len(body))
			if _, err := w.Write(body[:n]); err != nil {
				return true
			}
			w.(http.Flusher).Flush()
			body = body[n:]
			if len(body) > 0 {
				time.Sleep(150 * time.Millisecond)
			}
		}
		return true
	})
	c := src.copier(t)
	c.opts.tlsConfig.RootCAs.AddCert(dst.srv.Certificate())
	start := time.Now()
	res, err := c.Copy(withStallTimeout(context.Background(), idle), Job{
		Src: "docker://" + src.host + "/src/app:v1", Dest: "docker://" + dst.host + "/dst/app:v1",
		Retry: props.Retry{NumAttempts: 1},
	})
	if err != nil {
		t.Fatalf("a trickling registry failed the copy: %v", err)
	}
	if trickled.Load() < 2 || time.Since(start) < 2*idle {
		t.Errorf("the trickle was not exercised (%d blobs in %v)", trickled.Load(), time.Since(start))
	}
	if dst.digestOfTag(t, "dst/app:v1") != res.Digest {
		t.Error("destination does not hold the image")
	}
}

// S3 requests made in a watched attempt (awsenv's clients) are its activity: a body read of
// several seconds in small pieces never trips a short watch, and a waiting S3 request is
// named by its endpoint.
func TestS3ReadsAreActivity(t *testing.T) {
	testenv.NeedMoto(t)
	ctx := context.Background()
	client, err := awsenv.S3(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("stall")}); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("x", 64<<10)
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("stall"), Key: aws.String("k"), Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	wctx, w := newStallWatch(ctx, 300*time.Millisecond, "s3://stall")
	defer w.stop()
	out, err := client.GetObject(wctx, &s3.GetObjectInput{Bucket: aws.String("stall"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	// Reads of 4 KiB every 100ms: 1.6s in all, never 300ms without bytes.
	buf := make([]byte, 4<<10)
	total := 0
	for {
		time.Sleep(100 * time.Millisecond)
		n, err := out.Body.Read(buf)
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v (cause %v)", total, err, context.Cause(wctx))
		}
	}
	if total != len(body) || wctx.Err() != nil {
		t.Fatalf("read %d of %d bytes; watch: %v", total, len(body), context.Cause(wctx))
	}
	// A waiting S3 call is named by its endpoint.
	done := w.Waiting("stall.s3.example")
	<-wctx.Done()
	done(false)
	if got := context.Cause(wctx).Error(); !strings.Contains(got, "no response from stall.s3.example for 300ms") {
		t.Errorf("cause %q", got)
	}
}
