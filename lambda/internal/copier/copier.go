// Package copier copies an image into a registry with containers/image and
// reports the destination digest.
//
// A Job is planned first (which manifest or which index children end up at
// the destination), compared with what the destination already holds, and
// copied only when they differ. Extra tags (ArchImageTags, DestTags) are put
// afterwards and only when they point elsewhere.
//
// Where each decision lives:
//   - run.go: the order of the steps of one copy;
//   - plan.go: what the destination must hold (plan) and whether it already does;
//   - engine.go: which engine copies (chooseEngine, pure; the reason is logged);
//   - engine_direct.go and blobs.go: the direct registry-to-registry engine;
//   - engine_image.go: the containers/image copy.Image engine;
//   - retry.go: the one retry policy (errors are classified by errs.Classify);
//   - tags.go: ArchImageTags and DestTags; undo.go: putting tags back after a failure;
//   - delete*.go: removing what a resource owns; stall*.go: the idle watchdog.
package copier

import (
	"crypto/tls"
	"time"

	"github.com/cdk-ecr-deployment/handler/internal/s3archive"
)

// Options configure a Copier. The zero value works for registries; S3 is
// needed for s3:// sources.
type Options struct {
	// S3 gives S3 clients for s3:// sources.
	S3 s3archive.ClientFor
	// UserAgent is sent to registries. Default "cdk-ecr-deployment".
	UserAgent string
	// MaxParallel is the number of blobs copied at once. Default 6
	// (containers/image's default is 6 for pulls but the docker
	// destination does not ask for more).
	MaxParallel uint
	// ProgressEvery is the interval of progress log lines. Default 5s.
	ProgressEvery time.Duration

	// tlsConfig overrides the registries' TLS settings. Only tests set it
	// (to trust an httptest CA); nothing a user controls can reach it, so
	// TLS verification cannot be turned off in production.
	tlsConfig *tls.Config
}

// Copier runs Jobs.
type Copier struct{ opts Options }

// New returns a Copier.
func New(o Options) *Copier {
	if o.UserAgent == "" {
		o.UserAgent = "cdk-ecr-deployment"
	}
	if o.MaxParallel == 0 {
		o.MaxParallel = 6
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = 5 * time.Second
	}
	return &Copier{opts: o}
}
