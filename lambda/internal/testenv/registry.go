package testenv

// A real registry for Go tests: Debian's docker-registry (CNCF distribution 2.8), which scopes
// blobs per repository, verifies digests on commit, checks that a manifest's blobs exist and
// answers cross-repository mounts, unlike go-containerregistry's in-process registry (which
// ignores repository boundaries when it checks a blob).

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type Request struct {
	Method string
	Path   string
	Query  url.Values
	Status int
	In     int64 // request body bytes (blob data of a PATCH or PUT upload)
	Out    int64 // response body bytes (blob data of a GET)
}

func (r Request) String() string {
	s := r.Method + " " + r.Path
	if len(r.Query) > 0 {
		s += "?" + r.Query.Encode()
	}
	return fmt.Sprintf("%s -> %d (in %d B, out %d B)", s, r.Status, r.In, r.Out)
}

// Registry is a running docker-registry (TLS, delete enabled, storage in a test temp folder)
// behind a small reverse proxy of the test's own, which clients use: it records every
// request with its status and body bytes, and can answer a request itself (SetHook) to inject
// faults. Both are stopped at the end of the test.
type Registry struct {
	// Host is the proxy's 127.0.0.1:PORT: the registry part of image references.
	Host string
	// Direct is the registry's own 127.0.0.1:PORT (nothing is counted there).
	Direct string
	PKI    *PKI

	dir      string
	htpasswd string // set: the registry requires Basic auth from this file (see SetLogin)
	loginGen int
	cmd      *exec.Cmd
	exited   chan struct{} // closed when cmd has been waited for
	proxy    *httptest.Server
	mu       sync.Mutex
	log      []Request
	inFlight int
	hook     func(http.ResponseWriter, *http.Request) bool
}

// RegistryBinary is the docker-registry executable tests run.
const RegistryBinary = "docker-registry"

// StartRegistry starts docker-registry for the test, with the certificate of SharedPKI. It fails the test (never skips it) when
// docker-registry is not installed: bash scripts/setup.sh installs it.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	return startRegistry(t, "", "")
}

// StartRegistryWithLogin is StartRegistry with Basic auth (htpasswd, as ECR's registry API
// takes its tokens): only user and password are accepted, until SetLogin changes them.
func StartRegistryWithLogin(t testing.TB, user, password string) *Registry {
	t.Helper()
	return startRegistry(t, user, password)
}

func startRegistry(t testing.TB, user, password string) *Registry {
	t.Helper()
	bin, err := exec.LookPath(RegistryBinary)
	if err != nil {
		t.Fatalf("%s is not installed (bash scripts/setup.sh installs Debian's docker-registry): %v", RegistryBinary, err)
	}
	r := &Registry{PKI: SharedPKI(t), dir: t.TempDir()}
	if user != "" {
		r.htpasswd = filepath.Join(r.dir, "htpasswd")
		if err := r.SetLogin(user, password); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"server.crt", r.PKI.CertPEM}, {"server.key", r.PKI.KeyPEM}, {"ca.crt", r.PKI.CAPEM}} {
		if err := os.WriteFile(filepath.Join(r.dir, f.name), f.data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A free port can be taken between the probe and the registry's listen: try again then.
	var lastErr error
	for range 5 {
		if lastErr = r.start(bin); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("starting %s: %v\n%s", RegistryBinary, lastErr, r.registryLog())
	}
	t.Cleanup(func() {
		r.proxy.Close()
		r.stop()
		if t.Failed() {
			t.Logf("docker-registry log (tail):\n%s", r.registryLog())
		}
	})

	backend := &url.URL{Scheme: "https", Host: r.Direct}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(backend)
			// The registry builds upload Locations from the Host header: keep the proxy's,
			// so that every step of an upload comes back through the proxy.
			pr.Out.Host = pr.In.Host
		},
		Transport:     &http.Transport{TLSClientConfig: r.PKI.TLSConfig(), MaxIdleConnsPerHost: 32, ForceAttemptHTTP2: false},
		FlushInterval: -1,
	}
	r.proxy = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		in := &countingReader{r: req.Body}
		if req.Body != nil && req.Body != http.NoBody {
			req.Body = in
		}
		cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		r.mu.Lock()
		hook := r.hook
		r.inFlight++
		r.mu.Unlock()
		if hook == nil || !hook(cw, req) {
			rp.ServeHTTP(cw, req)
		}
		r.mu.Lock()
		r.log = append(r.log, Request{Method: req.Method, Path: req.URL.Path, Query: req.URL.Query(), Status: cw.status, In: in.n, Out: cw.n})
		r.inFlight--
		r.mu.Unlock()
	}))
	r.proxy.TLS = &tls.Config{Certificates: []tls.Certificate{r.PKI.Cert}}
	r.proxy.StartTLS()
	r.Host = strings.TrimPrefix(r.proxy.URL, "https://")
	return r
}

func (r *Registry) start(bin string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	r.Direct = ln.Addr().String()
	ln.Close()
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	config := strings.Join([]string{
		"version: 0.1",
		"log:",
		"  level: info",
		"  accesslog:",
		"    disabled: false",
		"storage:",
		"  filesystem:",
		"    rootdirectory: " + filepath.Join(r.dir, "storage"),
		"  delete:",
		"    enabled: true",
		"  maintenance:",
		"    uploadpurging:",
		"      enabled: false",
		"http:",
		"  addr: " + r.Direct,
		"  secret: " + hex.EncodeToString(secret),
		"  tls:",
		"    certificate: " + filepath.Join(r.dir, "server.crt"),
		"    key: " + filepath.Join(r.dir, "server.key"),
		"",
	}, "\n")
	if r.htpasswd != "" {
		config += "auth:\n  htpasswd:\n    realm: basic-realm\n    path: " + r.htpasswd + "\n"
	}
	cfg := filepath.Join(r.dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(r.dir, "registry.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	r.cmd, r.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(r.exited)
	}()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: r.PKI.TLSConfig()}, Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-r.exited:
			r.cmd = nil
			return fmt.Errorf("%s exited (%v)", RegistryBinary, cmd.ProcessState)
		default:
		}
		resp, err := client.Get("https://" + r.Direct + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || (r.htpasswd != "" && resp.StatusCode == http.StatusUnauthorized) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			r.stop()
			return fmt.Errorf("%s did not answer on %s: %v", RegistryBinary, r.Direct, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the registry's process group and waits for it.
func (r *Registry) stop() {
	if r.cmd == nil {
		return
	}
	pid := r.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-r.exited
	}
	r.cmd = nil
}

func (r *Registry) registryLog() string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "registry.log"))
	if lines := bytes.Split(b, []byte("\n")); len(lines) > 20 {
		b = bytes.Join(lines[len(lines)-20:], []byte("\n"))
	}
	return string(b)
}

// TLSConfig is a client configuration that trusts the registry's CA.
func (r *Registry) TLSConfig() *tls.Config { return r.PKI.TLSConfig() }

// Transport is an HTTP transport that trusts the registry's CA.
func (r *Registry) Transport() *http.Transport {
	return &http.Transport{TLSClientConfig: r.TLSConfig(), MaxIdleConnsPerHost: 16}
}

// SetHook makes h see every request first; it answers it itself by returning true. nil
// removes it.
func (r *Registry) SetHook(h func(w http.ResponseWriter, req *http.Request) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hook = h
}

// Requests returns the requests seen since the start or the last ResetLog. A client can have
// its response before the proxy has logged the request: requests still being handled are
// waited for (a second at most).
func (r *Registry) Requests() []Request {
	r.lockIdle()
	defer r.mu.Unlock()
	return append([]Request(nil), r.log...)
}

// ResetLog forgets the requests seen so far (e.g. a test's own set-up pushes).
func (r *Registry) ResetLog() {
	r.lockIdle()
	defer r.mu.Unlock()
	r.log = nil
}

// lockIdle locks r.mu once no request is being handled (or after a second).
func (r *Registry) lockIdle() {
	for deadline := time.Now().Add(time.Second); ; time.Sleep(time.Millisecond) {
		r.mu.Lock()
		if r.inFlight == 0 || time.Now().After(deadline) {
			return
		}
		r.mu.Unlock()
	}
}

// BlobBytes sums the blob data moved in reqs: read (response bodies of blob GETs) and written
// (request bodies of upload PATCHes and PUTs).
func BlobBytes(reqs []Request) (read, written int64) {
	for _, q := range reqs {
		switch {
		case q.Method == http.MethodGet && strings.Contains(q.Path, "/blobs/") && !strings.Contains(q.Path, "/blobs/uploads/"):
			read += q.Out
		case (q.Method == http.MethodPatch || q.Method == http.MethodPut) && strings.Contains(q.Path, "/blobs/uploads/"):
			written += q.In
		}
	}
	return read, written
}

// BlobExists HEADs a blob in one repository of the registry (through the proxy: counted).
func (r *Registry) BlobExists(ctx context.Context, repo, digest string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "https://"+r.Host+"/v2/"+repo+"/blobs/"+digest, nil)
	if err != nil {
		return false, err
	}
	client := &http.Client{Transport: r.Transport(), Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("HEAD %s: %s", req.URL.Path, resp.Status)
}

// SetLogin makes the registry accept user and password only (a registry with login, see
// StartRegistryWithLogin): as when an ECR token expires, the old password is refused from
// the next request on. docker-registry re-reads the htpasswd file when its time changes.
func (r *Registry) SetLogin(user, password string) error {
	if r.htpasswd == "" {
		return fmt.Errorf("SetLogin: the registry was started without login (StartRegistryWithLogin)")
	}
	out, err := exec.Command("htpasswd", "-Bbn", user, password).Output()
	if err != nil {
		return fmt.Errorf("htpasswd (apache2-utils; bash scripts/setup.sh installs it): %w", err)
	}
	if err := os.WriteFile(r.htpasswd, out, 0o600); err != nil {
		return err
	}
	// A time the file cannot have had: the registry compares it with the one it loaded.
	r.mu.Lock()
	r.loginGen++
	at := time.Now().Add(time.Duration(r.loginGen) * time.Second)
	r.mu.Unlock()
	return os.Chtimes(r.htpasswd, at, at)
}
