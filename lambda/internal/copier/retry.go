package copier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/aws/smithy-go"
	"github.com/docker/distribution/registry/api/errcode"
	"go.podman.io/image/v5/docker"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// Retryable reports whether err is transient, with a short reason for the
// log. HTTP 429 responses are first retried inside containers/image, which
// honours Retry-After per request; what reaches here has outlasted that.
func Retryable(err error) (bool, string) {
	if err == nil {
		return false, ""
	}
	if errors.Is(err, errs.ErrStalled) && !errors.Is(err, errs.ErrDeadline) {
		// Nothing came back for StallTimeout (stall.go): the next attempt gets new connections.
		return true, "stalled"
	}
	// Never retried: the same request would fail the same way.
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, errs.ErrDeadline):
		return false, ""
	case errors.Is(err, errs.ErrInvalidProperty), errors.Is(err, errs.ErrUnauthorized), errors.Is(err, errs.ErrNotFound),
		errors.Is(err, errs.ErrNoSuchPlatform),
		errors.Is(err, errs.ErrSecret), errors.Is(err, errs.ErrCorruptArchive):
		return false, ""
	case isUnauthorized(err), isNotFound(err):
		return false, ""
	}

	if errors.Is(err, docker.ErrTooManyRequests) {
		return true, "429 too many requests"
	}
	var ec errcode.ErrorCoder
	if errors.As(err, &ec) {
		switch ec.ErrorCode().String() {
		case "TOOMANYREQUESTS":
			return true, "toomanyrequests"
		case "UNAVAILABLE":
			return true, "registry unavailable"
		}
	}
	var hs docker.UnexpectedHTTPStatusError
	if errors.As(err, &hs) && (hs.StatusCode == 429 || hs.StatusCode >= 500) {
		return true, fmt.Sprintf("HTTP %d", hs.StatusCode)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "ThrottlingException", "Throttling", "RequestLimitExceeded":
			return true, "AWS " + ae.ErrorCode()
		}
	}
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return true, "connection reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return true, "connection refused"
	case errors.Is(err, syscall.EPIPE):
		return true, "broken pipe"
	case errors.Is(err, net.ErrClosed):
		// A reset seen by the transport's reader closes the connection under a request
		// body still being written (an upload): the writer gets net.ErrClosed.
		return true, "connection closed"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return true, "unexpected EOF"
	case errors.Is(err, io.EOF):
		// The server closed the connection before answering: a registry restarting, or one
		// behind a load balancer that drops a kept-alive connection (Go's net/http: `Post "...": EOF`).
		return true, "connection closed before an answer (EOF)"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true, "network timeout"
	}
	// Some failures only survive as text once containers/image has
	// formatted them (its unexported response error types).
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"statuscode: 500", "statuscode: 502", "statuscode: 503", "statuscode: 504",
		"status: 500", "status: 502", "status: 503", "status: 504", "toomanyrequests", "too many requests",
		"connection reset", "use of closed network connection", "unexpected eof", "tls handshake timeout", "i/o timeout", "http2: server sent goaway",
		"slowdown", "please reduce your request rate"} {
		if strings.Contains(msg, s) {
			return true, s
		}
	}
	return false, ""
}

// Backoff is the jittered delay before attempt n+1 (n >= 1): uniform in
// [d/2, d] where d = min(max, base*2^(n-1)). rnd returns a value in [0,1).
func Backoff(r props.Retry, n int, rnd func() float64) time.Duration {
	d := r.BaseDelay
	for i := 1; i < n && d < r.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, r.MaxDelay)
	return d/2 + time.Duration(rnd()*float64(d/2))
}

// withRetry runs fn up to r.NumAttempts times while its errors are
// transient. A wait that would end after ctx's deadline is not started.
func withRetry(ctx context.Context, r props.Retry, what string, fn func(context.Context) error) error {
	attempts := max(r.NumAttempts, 1)
	for n := 1; ; n++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		ok, reason := Retryable(err)
		if !ok || n >= attempts || ctx.Err() != nil {
			return err
		}
		wait := Backoff(r, n, rand.Float64)
		if dl, has := ctx.Deadline(); has && time.Until(dl) < wait {
			slog.Warn("not retrying: the deadline is too close", "op", what, "reason", reason, "attempt", n)
			return err
		}
		slog.Warn("retrying", "op", what, "reason", reason, "attempt", n, "of", attempts, "wait", wait.String())
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// ErrRefusedMidCopy marks an authorization failure that came once the copy was under way,
// after both registries had accepted the credentials (an ECR token or a bearer token that
// expired during a long copy): a new login can succeed where the same credentials cannot.
// Failures before that (a wrong password) are never marked, so they are never retried.
var ErrRefusedMidCopy = errors.New("credentials refused once the copy was under way")

// midCopy carries ErrRefusedMidCopy without changing the message.
type midCopy struct{ error }

func (m midCopy) Unwrap() error      { return m.error }
func (midCopy) Is(target error) bool { return target == ErrRefusedMidCopy }

// refusedMidCopy marks err when it is an authorization failure (see ErrRefusedMidCopy).
func refusedMidCopy(err error) error {
	if err != nil && errors.Is(err, errs.ErrUnauthorized) {
		return midCopy{err}
	}
	return err
}

func isUnauthorized(err error) bool {
	if errors.As(err, new(docker.ErrUnauthorizedForCredentials)) {
		return true
	}
	var ec errcode.ErrorCoder
	if errors.As(err, &ec) {
		switch ec.ErrorCode().String() {
		case "UNAUTHORIZED", "DENIED":
			return true
		}
	}
	var hs docker.UnexpectedHTTPStatusError
	if errors.As(err, &hs) && (hs.StatusCode == 401 || hs.StatusCode == 403) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "statuscode: 401") || strings.Contains(msg, "statuscode: 403") ||
		strings.Contains(msg, "authentication required") || strings.Contains(msg, "requested access to the resource is denied")
}

func isNotFound(err error) bool {
	var ec errcode.ErrorCoder
	if errors.As(err, &ec) {
		switch ec.ErrorCode().String() {
		case "MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN":
			return true
		case "UNKNOWN":
			// registry.redhat.io and Harbor answer UNKNOWN with a "not found" message.
			if e, ok := errors.AsType[errcode.Error](err); ok && strings.Contains(strings.ToLower(e.Message), "not found") {
				return true
			}
		}
	}
	var hs docker.UnexpectedHTTPStatusError
	if errors.As(err, &hs) && hs.StatusCode == 404 {
		return true
	}
	msg := strings.ToLower(err.Error())
	// The last one is containers/image's DeleteImage wording for a 404.
	return strings.Contains(msg, "statuscode: 404") || strings.Contains(msg, "manifest unknown") ||
		strings.Contains(msg, "image may not exist")
}
