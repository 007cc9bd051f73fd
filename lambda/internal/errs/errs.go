// Package errs holds the sentinel errors shared by the handler's packages.
//
// Every failure that reaches CloudFormation is wrapped around one of these so
// that callers (retry classification, Reason hints, tests) can use errors.Is
// instead of matching message text. Messages of the sentinels themselves are
// short because the wrapping context names the image or property.
package errs

import "errors"

var (
	// ErrInvalidProperty marks a ResourceProperties value that failed validation.
	// Never retried.
	ErrInvalidProperty = errors.New("invalid property")

	// ErrUnauthorized marks a registry or AWS refusal of the credentials used
	// (HTTP 401/403, "unauthorized", "denied"). Never retried.
	ErrUnauthorized = errors.New("unauthorized")

	// ErrNotFound marks an image, tag, repository, S3 object or secret that does
	// not exist. Never retried.
	ErrNotFound = errors.New("not found")

	// ErrNoSuchPlatform marks an index that exists but holds no image for a
	// requested architecture. Never retried; the Reason lists what the index has.
	ErrNoSuchPlatform = errors.New("architecture not in the index")

	// ErrSecret marks a Secrets Manager secret whose content is not usable as
	// registry credentials. Never retried.
	ErrSecret = errors.New("unusable secret")

	// ErrCorruptArchive marks an S3 object that is not a readable docker-archive tarball.
	// Never retried.
	ErrCorruptArchive = errors.New("corrupt archive")

	// ErrDeadline marks work that was stopped because the Lambda deadline
	// (minus the safety margin) was reached.
	ErrDeadline = errors.New("deadline")

	// ErrStalled marks a request that got no answer (no response, no bytes) for
	// the idle timeout (copier.StallTimeout): the attempt was aborted; it is retried.
	ErrStalled = errors.New("stalled")

	// ErrInternal marks a panic recovered in one of the handler's goroutines (a bug, not the
	// input's fault). Never retried.
	ErrInternal = errors.New("internal error")
)
