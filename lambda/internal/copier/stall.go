package copier

// Stall watchdog: an idle timeout for every registry and S3 request of an attempt.
//
// containers/image builds its own http.Transport (no ResponseHeaderTimeout, no idle timeout,
// no way to pass a transport in), so a registry that accepts the connection, completes TLS
// and then never answers is noticed only at the Lambda deadline: about 14 minutes with the
// default 15-minute function. Every withRetry attempt that talks to a registry therefore
// runs under a stallWatch: its context is cancelled, with errs.ErrStalled naming the host,
// when nothing came back for StallTimeout. Retryable classifies that as transient, so
// withRetry decides what follows (a new attempt, on new connections, or the failure).
//
// What counts as activity (each restarts the idle clock):
//   - the start of an attempt and of every registry call made through a watched source or
//     destination (watchSource, watchDest: the direct path) and every return from one
//     (GetManifest, GetBlob, TryReusingBlob, PutBlob, PutManifest, ...);
//   - every Read of a source blob, and every Read of an upload body by the HTTP client (the
//     destination took the bytes before);
//   - every progress event and every report line of copy.Image (see copyImage);
//   - every S3 response and S3 body read carrying bytes (awsenv.Activity). Sending an S3
//     request is not activity: the SDK's own retries must not keep a dead endpoint alive.
//
// Which host is named: a watched call is "waiting" on one host while it is inside a call
// to it: a blob Read waits on the source, an upload waits on the destination except while
// the HTTP client is reading the body (then it is the source's turn). The host of the call
// waiting longest is named; when nothing watched is waiting (copy.Image, or the planning
// calls) the attempt's own hosts are ("SRC or DEST" when both are involved).
//
// The rule is global per attempt: bytes moving anywhere keep the whole attempt alive, so a
// single stalled blob among flowing ones is caught once the others are done.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/s3archive"
)

// StallTimeout is N, how long an attempt may go without any activity before it is aborted
// as stalled. 40 seconds, because:
//   - live registries stay far below it. The longest legitimate silences are the first
//     byte of a blob GET (a token round trip and a redirect to S3 or a CDN: a few seconds),
//     a manifest PUT that ECR validates (seconds), and the commit of a large upload (the
//     registry moves or re-hashes the blob: seconds, tens of seconds for gigabytes; in the
//     direct path a commit gets commitGrace on top, see below). A trickling registry sends
//     bytes, and every byte is activity, so slow transfers never trip it.
//   - a total stall fails well within 3 minutes: with the default 3 attempts it costs
//     3 x 40 s plus the backoffs (under 1 s and under 2 s with props.DefaultRetry), about
//     123 s, against the 14 minutes of a 15-minute function before.
//   - it is above the 20 s and 30 s functions of the end-to-end fault suites, whose stalls
//     must still end at the deadline, and above containers/image's 10 s TLS handshake
//     timeout, which keeps handling a server that never completes TLS.
//
// The AWS SDK clients use the same value (awsenv.IdleTimeout) for ResponseHeaderTimeout and
// their read timeout.
const StallTimeout = awsenv.IdleTimeout

// commitBytesPerSecond is the slowest rate at which a registry is assumed to commit an
// uploaded blob (PUT ?digest=: moving it in storage, or reading it back to verify). Once an
// upload body reached its end, the wait for the commit gets size/commitBytesPerSecond on
// top of StallTimeout: 20 s more for 1 GiB.
const commitBytesPerSecond = 50 << 20

func commitGrace(size int64) time.Duration { return commitGraceAt(size, commitBytesPerSecond) }

func commitGraceAt(size, bytesPerSecond int64) time.Duration {
	if size <= 0 || bytesPerSecond <= 0 {
		return 0
	}
	return time.Duration(float64(size) / float64(bytesPerSecond) * float64(time.Second))
}

type commitRateKey struct{}

// withCommitRate sets the commit rate assumed by the attempts run with ctx (tests use a slow
// one, so that a small blob earns a grace they can measure).
func withCommitRate(ctx context.Context, bytesPerSecond int64) context.Context {
	return context.WithValue(ctx, commitRateKey{}, bytesPerSecond)
}

func commitRateOf(ctx context.Context) int64 {
	if r, ok := ctx.Value(commitRateKey{}).(int64); ok && r > 0 {
		return r
	}
	return commitBytesPerSecond
}

type stallTimeoutKey struct{}

// withStallTimeout sets the idle timeout of the attempts run with ctx (tests use a short one).
func withStallTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, stallTimeoutKey{}, d)
}

func stallTimeoutOf(ctx context.Context) time.Duration {
	if d, ok := ctx.Value(stallTimeoutKey{}).(time.Duration); ok && d > 0 {
		return d
	}
	return StallTimeout
}

// stallGuard wraps fn, one withRetry attempt talking to hosts (see hostsOf), in a stallWatch.
// When the watch fired, the attempt's error is replaced by the stall (which wraps
// errs.ErrStalled, not context.Canceled, so that it is retried), with the original error's
// text kept for what was in progress. With no hosts (local archives) fn runs unwatched.
func stallGuard(hosts string, fn func(context.Context) error) func(context.Context) error {
	if hosts == "" {
		return fn
	}
	return func(ctx context.Context) error {
		wctx, w := newStallWatch(ctx, stallTimeoutOf(ctx), hosts)
		err := fn(wctx)
		w.stop()
		cause := context.Cause(wctx)
		if err == nil || !errors.Is(cause, errs.ErrStalled) || ctx.Err() != nil || errors.Is(err, errs.ErrStalled) {
			return err
		}
		return fmt.Errorf("%w (%v)", cause, err)
	}
}

// hostsOf names the far ends of refs for stall messages: the registry host, s3://bucket for
// S3 archives, nothing for local archives. Distinct names are joined with " or ".
func hostsOf(refs ...types.ImageReference) string {
	var out []string
	for _, ref := range refs {
		h := ""
		switch {
		case ref == nil:
		case isRegistry(ref):
			if n := ref.DockerReference(); n != nil {
				h = reference.Domain(n)
			}
		case ref.Transport().Name() == s3archive.TransportName:
			bucket, _, _ := strings.Cut(strings.TrimPrefix(ref.StringWithinTransport(), "//"), "/")
			h = "s3://" + bucket
		}
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return strings.Join(out, " or ")
}

type stallWatchKey struct{}

// stallWatch is the watchdog of one attempt. All its methods accept a nil receiver (no
// watch: nothing happens), so code run outside a guarded attempt needs no special case.
type stallWatch struct {
	idle       time.Duration
	commitRate int64  // bytes per second, for commitGraceAt
	hosts      string // named when nothing watched is waiting
	start      time.Time
	last       atomic.Int64 // time.Duration since start of the last activity
	cancel     context.CancelCauseFunc

	mu      sync.Mutex
	timer   *time.Timer
	waiting map[*stallOp]struct{}
	stopped bool
}

// stallOp is one watched call, or one body, waiting on a host at times.
type stallOp struct {
	w     *stallWatch
	host  string
	since time.Duration // when it started waiting; guarded by w.mu
	grace time.Duration // extra silence allowed while it waits; guarded by w.mu
}

// newStallWatch starts a watch that cancels the returned context (a child of ctx) with an
// errs.ErrStalled cause after idle without activity. stop must be called.
func newStallWatch(ctx context.Context, idle time.Duration, hosts string) (context.Context, *stallWatch) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &stallWatch{idle: idle, commitRate: commitRateOf(ctx), hosts: hosts, start: time.Now(), cancel: cancel, waiting: map[*stallOp]struct{}{}}
	w.mu.Lock()
	w.timer = time.AfterFunc(idle, w.check)
	w.mu.Unlock()
	ctx = context.WithValue(ctx, stallWatchKey{}, w)
	return awsenv.WithActivity(ctx, w), w
}

// stallWatchOf is the watch of the attempt ctx belongs to, or nil.
func stallWatchOf(ctx context.Context) *stallWatch {
	w, _ := ctx.Value(stallWatchKey{}).(*stallWatch)
	return w
}

func (w *stallWatch) now() time.Duration { return time.Since(w.start) }

// touch records activity.
func (w *stallWatch) touch() {
	if w != nil {
		w.last.Store(int64(w.now()))
	}
}

// stop ends the watch and releases its context. A stall that fired before stays the
// context's cause.
func (w *stallWatch) stop() {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.stopped = true
	w.timer.Stop()
	w.mu.Unlock()
	w.cancel(nil)
}

// check fires when the idle time may have run out: it cancels the attempt, or sleeps again
// until the new end of the idle time.
func (w *stallWatch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	limit := w.idle
	var oldest *stallOp
	for o := range w.waiting {
		limit = max(limit, w.idle+o.grace)
		if oldest == nil || o.since < oldest.since {
			oldest = o
		}
	}
	silent := w.now() - time.Duration(w.last.Load())
	if silent < limit {
		w.timer.Reset(limit - silent)
		return
	}
	w.stopped = true
	host := w.hosts
	if oldest != nil && oldest.host != "" {
		host = oldest.host
	}
	limit = limit.Round(time.Millisecond)
	slog.Warn("no response: aborting the attempt", "host", host, "silent_for", limit.String())
	w.cancel(fmt.Errorf("%w: no response from %s for %s", errs.ErrStalled, host, limit))
}

// op returns a call or body on host, not waiting yet.
func (w *stallWatch) op(host string) *stallOp {
	if w == nil {
		return nil
	}
	return &stallOp{w: w, host: host}
}

// wait marks o as waiting on its host (grace: extra silence allowed meanwhile). It is
// activity: the client went on to the next step.
func (o *stallOp) wait(grace time.Duration) {
	if o == nil {
		return
	}
	o.w.mu.Lock()
	o.since, o.grace = o.w.now(), grace
	o.w.waiting[o] = struct{}{}
	o.w.mu.Unlock()
	o.w.touch()
}

// commitGrace is the extra silence allowed for the commit of an upload of size bytes.
func (o *stallOp) commitGrace(size int64) time.Duration {
	if o == nil {
		return 0
	}
	return commitGraceAt(size, o.w.commitRate)
}

// got marks o as answered (no longer waiting). It is activity.
func (o *stallOp) got() {
	if o == nil {
		return
	}
	o.w.mu.Lock()
	delete(o.w.waiting, o)
	o.w.mu.Unlock()
	o.w.touch()
}

// Waiting implements awsenv.Activity (S3 requests and body reads). Only an answer is
// activity; a request sent is not (see the top of the file).
func (w *stallWatch) Waiting(host string) func(got bool) {
	o := w.op(host)
	w.mu.Lock()
	o.since = w.now()
	w.waiting[o] = struct{}{}
	w.mu.Unlock()
	return func(got bool) {
		w.mu.Lock()
		delete(w.waiting, o)
		w.mu.Unlock()
		if got {
			w.touch()
		}
	}
}
