package copier

import (
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
)

// policyContext accepts any image: this handler copies images the stack author
// named explicitly, and signature verification is not configured anywhere
// in CDK. A policy file on the host is never consulted.
func policyContext() (*signature.PolicyContext, error) {
	return signature.NewPolicyContext(&signature.Policy{
		Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()},
	})
}

const (
	// missing is a path that does not exist; containers/image treats a
	// missing configuration file or directory as "use the defaults".
	missing = "/nonexistent/cdk-ecr-deployment"
	// unwritable is a path below a regular file (/dev/null): creating a
	// directory there fails without creating anything.
	unwritable = "/dev/null/cdk-ecr-deployment"
)

// gzipLevel is the level layers that reach the destination uncompressed (the layer.tar files
// of a `docker save` archive from Docker before 25) are gzipped at. Chosen by measurement:
// `bash bench/gzip.sh` (bench/results/gzip-levels.md) compresses a Go toolchain and a Python
// site-packages tree at every level with the compressor containers/image uses. At Lambda's
// 0.29 vCPU the copy of such a layer is bound by compression CPU, and levels 1 and 2 take
// about half the CPU of containers/image's default (6) for blobs 11 % larger; Huffman-only
// halves the CPU again but doubles the bytes, so the upload (40 MB/s per connection) and
// every later pull take longer. test/bench-gzip.test.ts keeps this and the measurement's
// choice the same.
const gzipLevel = 2

// systemContext returns the containers/image settings for one side.
func (c *Copier) systemContext(creds *auth.Credentials) *types.SystemContext {
	level := gzipLevel
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
		// Only a destination compresses, and only layers it receives uncompressed.
		CompressionLevel: &level,
	}
	if creds != nil {
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: creds.Username, Password: creds.Password}
	}
	if c.opts.tlsConfig != nil {
		sys.BaseTLSConfig = c.opts.tlsConfig
	}
	return sys
}
