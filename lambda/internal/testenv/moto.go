// Package testenv starts a real moto server (the AWS API emulator) for tests
// that need S3, Secrets Manager or ECR. It is imported only by tests.
package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Moto is a running moto_server.
type Moto struct {
	Endpoint string
	cmd      *exec.Cmd
}

// StartMoto runs moto_server ($MOTO_SERVER, or moto_server on PATH, or
// /work/main/.venv/bin/moto_server) on a free port and points the AWS SDK at
// it through the environment, exactly as the handler is configured in the
// end-to-end run. It fails rather than skipping when moto is missing.
func StartMoto() (*Moto, error) {
	bin := os.Getenv("MOTO_SERVER")
	if bin == "" {
		if p, err := exec.LookPath("moto_server"); err == nil {
			bin = p
		} else if _, err := os.Stat("/work/main/.venv/bin/moto_server"); err == nil {
			bin = "/work/main/.venv/bin/moto_server"
		}
	}
	if bin == "" {
		return nil, fmt.Errorf("moto_server not found: set MOTO_SERVER or install it with pip install 'moto[server]'")
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

// RunWithMoto is a TestMain body for packages whose tests call AWS APIs: it starts moto,
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
