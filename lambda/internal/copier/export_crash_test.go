package copier

import (
	"crypto/tls"

	"go.podman.io/image/v5/types"
)

// Test-only access for the external test package (crash_e2e_test.go).

// NewForTest is New with the registries' TLS trust replaced (a test CA).
func NewForTest(o Options, trust *tls.Config) *Copier {
	c := New(o)
	c.opts.tlsConfig = trust
	return c
}

// SetBlobHookForTest sets the hook every blob worker calls before it copies its blob.
func SetBlobHookForTest(h func(types.BlobInfo)) { blobHook = h }
