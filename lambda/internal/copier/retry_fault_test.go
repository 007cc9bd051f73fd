package copier

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
	"testing"
)

// What the e2e fault proxy produces when it resets a connection in the middle of a blob
// upload or download, as the copier sees it: each must be retried.
func TestConnectionFaultsAreRetryable(t *testing.T) {
	patch := func(err error) error {
		return fmt.Errorf("copying blob sha256:abc: %w", &url.Error{Op: "Patch", URL: "https://r.example/v2/a/blobs/uploads/1", Err: err})
	}
	for name, err := range map[string]error{
		"reset":                patch(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}),
		"closed under a write": patch(&net.OpError{Op: "write", Net: "tcp", Err: net.ErrClosed}),
		"closed, as text only": errors.New(`writing blob: Patch "https://r.example/v2/a/blobs/uploads/1": use of closed network connection`),
		"broken pipe":          patch(&net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}),
	} {
		if ok, reason := Retryable(err); !ok || reason == "" {
			t.Errorf("%s: not retried: %v", name, err)
		}
	}
}
