// Package copier copies an image into a registry with containers/image and
// reports the destination digest.
//
// A Job is planned first (which manifest or which index children end up at
// the destination), compared with what the destination already holds, and
// copied only when they differ. Extra tags (ArchImageTags, DestTags) are put
// afterwards and only when they point elsewhere.
package copier

import (
	"context"
	"crypto/tls"
	"time"

	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
	"github.com/cdk-ecr-deployment/handler/internal/props"
	"github.com/cdk-ecr-deployment/handler/internal/s3archive"
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
	// AllImages copies a whole index.
	AllImages bool
	ArchTags  map[string]string
	DestTags  []string
	Retry     props.Retry
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

const (
	// missing is a path that does not exist; containers/image treats a
	// missing configuration file or directory as "use the defaults".
	missing = "/nonexistent/cdk-ecr-deployment"
	// unwritable is a path below a regular file (/dev/null): creating a
	// directory there fails without creating anything.
	unwritable = "/dev/null/cdk-ecr-deployment"
)

// systemContext returns the containers/image settings for one side.
func (c *Copier) systemContext(creds *auth.Credentials) *types.SystemContext {
	sys := &types.SystemContext{
		DockerRegistryUserAgent: c.opts.UserAgent,
		// Registries configuration: use built-in defaults only, never the
		// files of the host (/etc/containers/...), so behaviour does not
		// depend on the Lambda image. A custom main file must exist, and an
		// empty one means "defaults"; missing drop-in directories are fine.
		SystemRegistriesConfPath:    "/dev/null",
		SystemRegistriesConfDirPath: missing,
		RegistriesDirPath:           missing,
		// Per-host CA dirs (/etc/docker/certs.d): none; CAs come from the
		// system pool, which honours SSL_CERT_FILE.
		DockerPerHostCertDirPath: missing,
		// The blob info cache would otherwise be a SQLite file under
		// /var/lib/containers/cache (root) or $HOME. Pointing its directory
		// below /dev/null makes containers/image fall back to its in-memory
		// cache, so nothing is written to disk.
		BlobInfoCacheDir: unwritable,
		// Only for local archive sources that need unpacking (oci-archive).
		BigFilesTemporaryDir: "",
		// Credentials are never read from, or written to, auth files.
		AuthFilePath:             missing,
		DockerCompatAuthFilePath: "",
		OSChoice:                 "linux",
		DockerAuthConfig:         &types.DockerAuthConfig{},
	}
	if creds != nil {
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: creds.Username, Password: creds.Password}
	}
	if c.opts.tlsConfig != nil {
		sys.BaseTLSConfig = c.opts.tlsConfig
	}
	return sys
}
