package errs

// The classifier: errors from the libraries the handler talks through (containers/image,
// docker/distribution's errcode, the AWS SDK's smithy, net) become the sentinels of this
// package once, at the boundary (the retry policy classifies every attempt's error). Retrying
// and describing are then errors.Is switches.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/aws/smithy-go"
	"github.com/docker/distribution/registry/api/errcode"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"go.podman.io/image/v5/docker"
)

// ErrTransient marks a failure that the same request may not meet again (throttling, 5xx,
// resets, timeouts). Retried.
var ErrTransient = errors.New("transient")

// classified is a library error with the sentinel it was classified as. Its text is the
// library error's, so classifying never changes a message.
type classified struct {
	err    error
	kind   error
	reason string // for ErrTransient: a short reason for the log
}

func (c *classified) Error() string   { return c.err.Error() }
func (c *classified) Unwrap() []error { return []error{c.err, c.kind} }

// sentinels are this package's own classes: an error wrapping one is already classified.
var sentinels = []error{ErrInvalidProperty, ErrUnauthorized, ErrNotFound, ErrNoSuchPlatform, ErrSecret,
	ErrCorruptArchive, ErrDeadline, ErrStalled, ErrInternal, ErrTransient}

// Classify returns err wrapped with the sentinel it stands for (ErrUnauthorized, ErrNotFound
// or ErrTransient), or err itself when it already wraps a sentinel or a context error, or
// is none of those. Classifying twice is classifying once.
func Classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return err
		}
	}
	text, textReason := fromText(strings.ToLower(err.Error()))
	switch {
	case unauthorizedType(err) || text == ErrUnauthorized:
		return &classified{err: err, kind: ErrUnauthorized}
	case notFoundType(err) || text == ErrNotFound:
		return &classified{err: err, kind: ErrNotFound}
	}
	if r := transientType(err); r != "" {
		return &classified{err: err, kind: ErrTransient, reason: r}
	}
	if text == ErrTransient {
		return &classified{err: err, kind: ErrTransient, reason: textReason}
	}
	return err
}

// Retryable reports whether err is transient, with a short reason for the log. A stall is
// retried (the next attempt gets new connections) unless the deadline stopped it too.
// HTTP 429 responses to requests without a body are first retried inside containers/image,
// which honours Retry-After per request; what reaches here has outlasted that.
func Retryable(err error) (bool, string) {
	if err == nil {
		return false, ""
	}
	if errors.Is(err, ErrStalled) && !errors.Is(err, ErrDeadline) {
		return true, "stalled"
	}
	err = Classify(err)
	for _, s := range []error{context.Canceled, context.DeadlineExceeded, ErrDeadline, ErrInvalidProperty,
		ErrUnauthorized, ErrNotFound, ErrNoSuchPlatform, ErrSecret, ErrCorruptArchive, ErrInternal} {
		if errors.Is(err, s) {
			return false, ""
		}
	}
	if c, ok := errors.AsType[*classified](err); ok && c.kind == ErrTransient {
		return true, c.reason
	}
	if errors.Is(err, ErrTransient) {
		return true, "transient"
	}
	return false, ""
}

// IsAWSAccessDenied reports whether err is an AWS API refusal of the caller's identity or
// permissions (smithy error codes).
func IsAWSAccessDenied(err error) bool {
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		switch ae.ErrorCode() {
		case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException":
			return true
		}
	}
	return false
}

func unauthorizedType(err error) bool {
	if errors.As(err, new(docker.ErrUnauthorizedForCredentials)) {
		return true
	}
	if ec, ok := errorCoder(err); ok {
		switch ec.ErrorCode().String() {
		case "UNAUTHORIZED", "DENIED":
			return true
		}
	}
	if st := ggcrStatus(err); st == 401 || st == 403 {
		return true
	}
	hs, ok := errors.AsType[docker.UnexpectedHTTPStatusError](err)
	return ok && (hs.StatusCode == 401 || hs.StatusCode == 403)
}

// ggcrStatus is the HTTP status of a go-containerregistry error (the referrers copy talks
// through it), 0 for none.
func ggcrStatus(err error) int {
	if te, ok := errors.AsType[*transport.Error](err); ok {
		return te.StatusCode
	}
	return 0
}

func notFoundType(err error) bool {
	if ec, ok := errorCoder(err); ok {
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
	if ggcrStatus(err) == 404 {
		return true
	}
	hs, ok := errors.AsType[docker.UnexpectedHTTPStatusError](err)
	return ok && hs.StatusCode == 404
}

// transientType is the reason a typed error is transient, or "".
func transientType(err error) string {
	if errors.Is(err, docker.ErrTooManyRequests) {
		return "429 too many requests"
	}
	if ec, ok := errorCoder(err); ok {
		switch ec.ErrorCode().String() {
		case "TOOMANYREQUESTS":
			return "toomanyrequests"
		case "UNAVAILABLE":
			return "registry unavailable"
		}
	}
	if hs, ok := errors.AsType[docker.UnexpectedHTTPStatusError](err); ok && (hs.StatusCode == 429 || hs.StatusCode >= 500) {
		return fmt.Sprintf("HTTP %d", hs.StatusCode)
	}
	if st := ggcrStatus(err); st == 429 || st >= 500 {
		return fmt.Sprintf("HTTP %d", st)
	}
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		switch ae.ErrorCode() {
		case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "ThrottlingException", "Throttling", "RequestLimitExceeded":
			return "AWS " + ae.ErrorCode()
		}
	}
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, net.ErrClosed):
		// A reset seen by the transport's reader closes the connection under a request
		// body still being written (an upload): the writer gets net.ErrClosed.
		return "connection closed"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF"
	case errors.Is(err, io.EOF):
		// A registry that went away mid-request (a restart), or a load balancer that dropped a
		// kept-alive connection: Go's net/http gives `Post "...": EOF`.
		return "connection closed before an answer (EOF)"
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return "network timeout"
	}
	return ""
}

// textRules are the messages that only survive as text: containers/image formats some
// registry answers into strings (its response error types are unexported), and wraps
// others with %v. Each entry has its own test case (TestFromText). Order matters: the
// first match wins.
var textRules = []struct {
	substr string
	kind   error
}{
	{"statuscode: 401", ErrUnauthorized},
	{"statuscode: 403", ErrUnauthorized},
	{"authentication required", ErrUnauthorized},
	{"requested access to the resource is denied", ErrUnauthorized},
	{"statuscode: 404", ErrNotFound},
	{"manifest unknown", ErrNotFound},
	// containers/image's DeleteImage wording for a 404.
	{"image may not exist", ErrNotFound},
	{"statuscode: 500", ErrTransient},
	{"statuscode: 502", ErrTransient},
	{"statuscode: 503", ErrTransient},
	{"statuscode: 504", ErrTransient},
	{"status: 500", ErrTransient},
	{"status: 502", ErrTransient},
	{"status: 503", ErrTransient},
	{"status: 504", ErrTransient},
	{"toomanyrequests", ErrTransient},
	{"too many requests", ErrTransient},
	{"connection reset", ErrTransient},
	{"use of closed network connection", ErrTransient},
	{"unexpected eof", ErrTransient},
	{"tls handshake timeout", ErrTransient},
	{"i/o timeout", ErrTransient},
	{"http2: server sent goaway", ErrTransient},
	{"slowdown", ErrTransient},
	{"please reduce your request rate", ErrTransient},
	// DIGEST_INVALID: bytes that did not hash to their digest on the way (a transfer to try
	// again), and Debian's docker-registry 2.8 (filesystem storage) under concurrent writers to
	// one repository: a manifest PUT that reads a blob link another upload is still writing
	// answers "digest invalid". A blob that really is corrupt fails again on every attempt.
	{"digest invalid", ErrTransient},
}

// fromText is the one place that classifies by message text (msg lowercased): the class of
// the first rule whose text msg holds, and that text as the reason.
func fromText(msg string) (kind error, reason string) {
	for _, r := range textRules {
		if strings.Contains(msg, r.substr) {
			return r.kind, r.substr
		}
	}
	return nil, ""
}

func errorCoder(err error) (errcode.ErrorCoder, bool) {
	var ec errcode.ErrorCoder
	ok := errors.As(err, &ec)
	return ec, ok
}
