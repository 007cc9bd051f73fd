package copier

import (
	"context"

	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// Credentials are one registry's credentials for a copy.
type Credentials struct {
	// Current are the credentials to use; nil is anonymous.
	Current *auth.Credentials
	// Relogin, when set, gets new credentials after the registry refused Current: a fresh
	// ECR token (they expire after 12 hours), or ECR Public's token after an anonymous read
	// was refused. Nil when no others can be had (a password, a secret).
	Relogin func(ctx context.Context) (*auth.Credentials, error)
}

// Job is one copy request.
type Job struct {
	// Src is the image to copy: a registry image (RegistryReference) or an archive
	// (ParseSource). Dest is a registry image (RegistryReference).
	Src, Dest types.ImageReference

	// SrcCreds and DestCreds are resolved before the copy (deploy does it); the retry policy
	// logs in again through Relogin once when a registry refuses them.
	SrcCreds  Credentials
	DestCreds Credentials

	// Platforms selects architectures; empty means the default single one.
	Platforms []props.Platform
	// CopyImageIndex copies a whole index, byte for byte (the CopyImageIndex property).
	CopyImageIndex bool
	ArchTags       []props.ArchTag
	DestTags       []string
	Retry          props.Retry
	// CopyReferrers copies the OCI 1.1 referrers and cosign tags of every copied manifest
	// (referrers.go).
	CopyReferrers bool
	// DestManifestFormat forces the destination manifest format ("oci" or "v2s2", see
	// props.ManifestFormats); "" keeps the source's bytes.
	DestManifestFormat string
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
