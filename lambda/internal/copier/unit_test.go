package copier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/docker/distribution/registry/api/errcode"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/props"
)

func TestParseImageName(t *testing.T) {
	for in, want := range map[string]string{
		"docker://nginx":                "docker://docker.io/library/nginx:latest",
		"docker://nginx:1.25":           "docker://docker.io/library/nginx:1.25",
		"docker://localhost:5000/a/b:c": "docker://localhost:5000/a/b:c",
		"docker://ghcr.io/o/r@sha256:" + strings.Repeat("a", 64): "docker://ghcr.io/o/r@sha256:" + strings.Repeat("a", 64),
	} {
		ref, err := ParseImageName(in, nil)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := display(ref); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"nginx", "ftp://x", "docker://UPPER/case", "s3://b/k"} {
		if _, err := ParseImageName(bad, nil); !errors.Is(err, errs.ErrInvalidProperty) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestTagAndDigestRefs(t *testing.T) {
	d := digest.Digest("sha256:" + strings.Repeat("c", 64))
	for _, dest := range []string{"reg.local:5000/team/app:v1", "reg.local:5000/team/app@" + d.String(), "reg.local:5000/team/app"} {
		named, err := reference.ParseNormalizedNamed(dest)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := withTag(named, "v1-arm64")
		if err != nil {
			t.Fatal(err)
		}
		if got := ref.DockerReference().String(); got != "reg.local:5000/team/app:v1-arm64" {
			t.Errorf("%s: arch tag ref %s", dest, got)
		}
		if got := pinned(named, d); got != "reg.local:5000/team/app@"+d.String() {
			t.Errorf("%s: pinned %s", dest, got)
		}
	}
}

type apiErr struct{ code string }

func (e apiErr) Error() string                 { return e.code }
func (e apiErr) ErrorCode() string             { return e.code }
func (e apiErr) ErrorMessage() string          { return e.code }
func (e apiErr) ErrorFault() smithy.ErrorFault { return smithy.FaultServer }

// timeoutError is a net.Error that timed out, as a deadline on a connection gives. Its text
// matches none of Retryable's text fallbacks, so only the net.Error branch can retry it.
type timeoutError struct{}

func (timeoutError) Error() string   { return "operation timed out" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestRetryable(t *testing.T) {
	yes := []error{
		docker.ErrTooManyRequests,
		fmt.Errorf("wrapped: %w", errcode.Error{Code: errcode.ErrorCodeTooManyRequests}),
		errcode.Error{Code: errcode.ErrorCodeUnavailable},
		docker.UnexpectedHTTPStatusError{StatusCode: 503},
		fmt.Errorf("get: %w", syscall.ECONNRESET),
		io.ErrUnexpectedEOF,
		apiErr{"SlowDown"},
		errors.New(`StatusCode: 502, "bad gateway"`),
		// Network timeouts (README: "connection resets and timeouts"): a net.Error whose
		// Timeout() is true, as the transport returns it, and the text form that survives
		// containers/image's formatting.
		&net.OpError{Op: "read", Net: "tcp", Err: timeoutError{}},
		fmt.Errorf("reading blob: %w", &net.OpError{Op: "dial", Net: "tcp", Err: timeoutError{}}),
		errors.New("read tcp 10.0.0.1:443: i/o timeout"),
		// A registry that went away mid-request (restarting): net/http's url.Error around io.EOF.
		fmt.Errorf("copying blob: %w", &url.Error{Op: "Post", URL: "https://r.example/v2/x/blobs/uploads/", Err: io.EOF}),
		errors.New("net/http: TLS handshake timeout"),
	}
	for _, err := range yes {
		if ok, reason := Retryable(err); !ok || reason == "" {
			t.Errorf("%v should be retried", err)
		}
	}
	no := []error{
		nil,
		docker.ErrUnauthorizedForCredentials{Err: errors.New("x")},
		errcode.Error{Code: errcode.ErrorCodeUnauthorized},
		errcode.Error{Code: errcode.ErrorCodeDenied},
		docker.UnexpectedHTTPStatusError{StatusCode: 403},
		docker.UnexpectedHTTPStatusError{StatusCode: 404},
		errors.New("manifest unknown"),
		fmt.Errorf("%w: x", errs.ErrInvalidProperty),
		fmt.Errorf("%w: x", errs.ErrNotFound),
		context.DeadlineExceeded,
		context.Canceled,
		errors.New("something odd"),
	}
	for _, err := range no {
		if ok, _ := Retryable(err); ok {
			t.Errorf("%v must not be retried", err)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	r := props.Retry{NumAttempts: 10, BaseDelay: time.Second, MaxDelay: 10 * time.Second}
	for n := 1; n <= 10; n++ {
		lo, hi := Backoff(r, n, func() float64 { return 0 }), Backoff(r, n, func() float64 { return 0.999999 })
		d := min(time.Second<<(n-1), 10*time.Second)
		if lo != d/2 || hi > d || hi < d*9/10 {
			t.Errorf("attempt %d: [%v, %v], want [%v, %v]", n, lo, hi, d/2, d)
		}
	}
	if got := Backoff(props.Retry{BaseDelay: 0, MaxDelay: 0}, 3, func() float64 { return 0.5 }); got != 0 {
		t.Errorf("zero delays gave %v", got)
	}
}

func TestWithRetryStopsAtDeadline(t *testing.T) {
	calls := 0
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Hour))
	defer cancel()
	// A backoff longer than the time left is not started.
	r := props.Retry{NumAttempts: 5, BaseDelay: 2 * time.Hour, MaxDelay: 2 * time.Hour}
	err := withRetry(ctx, r, "test", func(context.Context) error {
		calls++
		return docker.ErrTooManyRequests
	})
	if calls != 1 || !errors.Is(err, docker.ErrTooManyRequests) {
		t.Errorf("calls=%d err=%v", calls, err)
	}
	calls = 0
	err = withRetry(context.Background(), props.Retry{NumAttempts: 3}, "test", func(context.Context) error {
		calls++
		return docker.ErrTooManyRequests
	})
	if calls != 3 || err == nil {
		t.Errorf("calls=%d, want 3 attempts", calls)
	}
	calls = 0
	_ = withRetry(context.Background(), props.Retry{NumAttempts: 3}, "test", func(context.Context) error {
		calls++
		return errcode.Error{Code: errcode.ErrorCodeUnauthorized}
	})
	if calls != 1 {
		t.Errorf("auth failure attempted %d times", calls)
	}
}

func TestSystemContextWritesNothing(t *testing.T) {
	sys := New(Options{}).systemContext(nil)
	if sys.BlobInfoCacheDir != unwritable || !strings.HasPrefix(unwritable, "/dev/null/") {
		t.Errorf("blob info cache dir %q could be created", sys.BlobInfoCacheDir)
	}
	if sys.DockerAuthConfig == nil || *sys.DockerAuthConfig != (types.DockerAuthConfig{}) {
		t.Error("anonymous access must not fall back to auth files")
	}
	if sys.DockerInsecureSkipTLSVerify != 0 || sys.BaseTLSConfig != nil {
		t.Error("TLS settings changed outside tests")
	}
}

// archTags builds ArchImageTags entries from arch, tag pairs, as props parses them.
func archTags(pairs ...string) []props.ArchTag {
	var out []props.ArchTag
	for i := 0; i+1 < len(pairs); i += 2 {
		pl, err := props.ParsePlatform(pairs[i])
		if err != nil {
			panic(err)
		}
		out = append(out, props.ArchTag{Arch: pairs[i], Platform: pl, Tag: pairs[i+1]})
	}
	return out
}
