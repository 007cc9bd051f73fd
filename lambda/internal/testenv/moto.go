// Package testenv starts a real moto server (the AWS API emulator) for tests
// that need S3, Secrets Manager or ECR. It is imported only by tests.
package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Moto is a running moto_server.
type Moto struct {
	Endpoint string
	cmd      *exec.Cmd
}

// motoBinary finds moto_server: $MOTO_SERVER, else moto_server on PATH, else the repository's
// .venv (scripts/setup.sh makes it), found relative to this module.
func motoBinary() (string, error) {
	if bin := os.Getenv("MOTO_SERVER"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("MOTO_SERVER=%s: %w", bin, err)
		}
		return bin, nil
	}
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p, nil
	}
	// This file is lambda/internal/testenv/moto.go; the .venv is at the repository root.
	if _, file, _, ok := runtime.Caller(0); ok {
		venv := filepath.Join(filepath.Dir(file), "..", "..", "..", ".venv", "bin", "moto_server")
		if _, err := os.Stat(venv); err == nil {
			return venv, nil
		}
	}
	return "", fmt.Errorf("moto_server not found: set MOTO_SERVER, put moto_server on PATH, or run scripts/setup.sh (it makes .venv with moto[server])")
}

// StartMoto runs moto_server (see motoBinary) on a free port and points the AWS SDK at
// it through the environment, exactly as the handler is configured in the end-to-end
// run. It fails rather than skipping when moto is missing.
func StartMoto() (*Moto, error) {
	bin, err := motoBinary()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	m := &Moto{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	for i := 0; ; i++ {
		resp, err := http.Get(m.Endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 300 {
			m.Stop()
			return nil, fmt.Errorf("moto_server did not come up on %s: %v", m.Endpoint, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": m.Endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		os.Setenv(k, v)
	}
	return m, nil
}

// Stop ends the server (and its process group).
func (m *Moto) Stop() {
	if m.cmd.Process != nil {
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
		_ = m.cmd.Wait()
	}
}

var (
	shared    *Moto
	sharedErr error
	sharedMu  sync.Mutex
)

// NeedMoto starts one moto_server for the test binary (the first call does), pointing the
// AWS SDK at it; a test that calls AWS APIs calls it first. The test fails, never skips,
// when moto is missing. Main stops the server.
func NeedMoto(t testing.TB) *Moto {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = StartMoto()
	}
	if sharedErr != nil {
		t.Fatalf("this test needs moto: %v", sharedErr)
	}
	return shared
}

// Main is a TestMain body: it runs the tests and stops the moto_server NeedMoto started,
// if any. Tests that need no AWS API run without moto.
func Main(m *testing.M) {
	code := m.Run()
	sharedMu.Lock()
	if shared != nil {
		shared.Stop()
	}
	sharedMu.Unlock()
	os.Exit(code)
}

// RunWithMoto is a TestMain body for packages whose tests all call AWS APIs: it starts moto,
// points the SDK at it, runs the tests and stops it. Without moto the package fails.
func RunWithMoto(m *testing.M, pkg string) {
	moto, err := StartMoto()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s tests need moto: %v\n", pkg, err)
		os.Exit(1)
	}
	code := m.Run()
	moto.Stop()
	os.Exit(code)
}
