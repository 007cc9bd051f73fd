package copier

import (
	"context"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// Job is one copy request.
type Job struct {
	Src  string // transport:reference
	Dest string // docker://...

	SrcAuth  *auth.Credentials // nil = anonymous
	DestAuth *auth.Credentials
	// SrcAuthFallback, when set, is asked for credentials after an
	// anonymous source read was refused (ECR Public: anonymous first).
	SrcAuthFallback func() (*auth.Credentials, error)

	// Platforms selects architectures; empty means the default single one.
	Platforms []props.Platform
	// CopyImageIndex copies a whole index, byte for byte (the CopyImageIndex property).
	CopyImageIndex bool
	ArchTags       map[string]string
	DestTags       []string
	Retry          props.Retry
	// Remove deletes tags that a failed copy wrote where there were none before (see
	// undo.go); it is Delete with the destination's clients. Nil leaves them.
	Remove func(ctx context.Context, o Owned) error
}

// Result is what the copy produced.
type Result struct {
	Digest  string // of the destination manifest or index
	URI     string // destination pinned by digest, without transport
	Skipped bool   // the destination already held the image
}
