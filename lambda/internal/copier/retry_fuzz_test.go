package copier

// The handler has no Retry-After parser of its own: containers/image parses the header
// (docker/docker_client.go parseRetryAfter) and retries 429s itself, at most 5 times and
// 60 s apart. What the handler parses from registry responses is the error containers/image
// makes of them (status, the errcode JSON body, the message text), in Retryable,
// isUnauthorized and isNotFound. FuzzRetryable checks those on synthetic errors;
// FuzzRegistryResponse serves fuzzed responses (status, Retry-After, Content-Type, body) to
// containers/image's real client and checks what readManifest and Retryable make of them.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/distribution/registry/api/errcode"
	"go.podman.io/image/v5/docker"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
)

var neverRetried = []error{errs.ErrInvalidProperty, errs.ErrUnauthorized, errs.ErrNotFound, errs.ErrNoSuchPlatform,
	errs.ErrSecret, errs.ErrCorruptArchive, errs.ErrDeadline, context.Canceled, context.DeadlineExceeded}

// FuzzRetryable builds the errors a registry response becomes (an errcode body, an
// unexpected status, containers/image's "StatusCode: N, body" text) around fuzzed text and
// checks the classification: sentinels that mean "never retry" win over any text, a stall
// is retried, a refusal of credentials or a missing image never is, and the reason is short.
func FuzzRetryable(f *testing.F) {
	f.Add("connection reset by peer", 503, []byte(`{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}`), uint8(0))
	f.Add("please reduce your request rate", 429, []byte(`{"errors":[{"code":"TOOMANYREQUESTS"}]}`), uint8(1))
	f.Add("statuscode: 500", 401, []byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`), uint8(2))
	f.Add("unexpected EOF", 404, []byte(`{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`), uint8(3))
	f.Add("i/o timeout", 200, []byte(`{"errors":[{"code":"UNKNOWN","message":"Not Found"},{"code":"DENIED"}]}`), uint8(4))
	f.Add("", 0, []byte(`{"errors":[{"code":"","detail":{"x":[1,2]}}]}`), uint8(5))
	f.Add("x", -1, []byte(`not json`), uint8(6))
	f.Fuzz(func(t *testing.T, msg string, status int, body []byte, sel uint8) {
		var codes errcode.Errors
		_ = json.Unmarshal(body, &codes)
		shown := string(body)
		if len(shown) > 50 {
			shown = shown[:50] + "..."
		}
		base := []error{
			errors.New(msg),
			fmt.Errorf("%s: %w", msg, docker.UnexpectedHTTPStatusError{StatusCode: status}),
			fmt.Errorf("StatusCode: %d, %q", status, shown),
			fmt.Errorf("reading manifest v1 in r.example.com/app: %s", msg),
		}
		if len(codes) > 0 {
			base = append(base, fmt.Errorf("%s: %w", msg, codes[0]), fmt.Errorf("%w", codes))
		}
		for _, err := range base {
			ok, reason := Retryable(err)
			if ok2, reason2 := Retryable(err); ok2 != ok || reason2 != reason {
				t.Fatalf("Retryable is not deterministic for %v", err)
			}
			if ok != (reason != "") || len(reason) > 64 {
				t.Fatalf("Retryable(%v) = %v, %q", err, ok, reason)
			}
			if ok && (isUnauthorized(err) || isNotFound(err)) {
				t.Fatalf("Retryable(%v): retried a refusal or a missing image", err)
			}
			for _, s := range neverRetried {
				if ok, _ := Retryable(fmt.Errorf("%w: %w", s, err)); ok {
					t.Fatalf("Retryable retried %v wrapped with %v", err, s)
				}
			}
			if ok, _ := Retryable(fmt.Errorf("%w: %w", errs.ErrStalled, err)); !ok {
				t.Fatalf("a stall is retried whatever the error says: %v", err)
			}
			if ok, _ := Retryable(fmt.Errorf("%w: %w: %w", errs.ErrStalled, errs.ErrDeadline, err)); ok {
				t.Fatalf("a stall at the deadline is not retried: %v", err)
			}
		}
		// A status alone: 401, 403 and 404 are final; 429 and 5xx are retried.
		hs := docker.UnexpectedHTTPStatusError{StatusCode: status}
		ok, _ := Retryable(hs)
		switch {
		case status == 401 || status == 403 || status == 404:
			if ok {
				t.Fatalf("HTTP %d retried", status)
			}
		case status == 429 || status >= 500:
			if !ok {
				t.Fatalf("HTTP %d not retried", status)
			}
		}
	})
}

// fuzzRegistry is one TLS server for the whole fuzzing process: each input sets the answer
// to the manifest GET; the /v2/ ping always succeeds.
var fuzzRegistry struct {
	once sync.Once
	srv  *httptest.Server
	mu   sync.Mutex
	resp registryAnswer
}

type registryAnswer struct {
	status                  int
	retryAfter, contentType string
	body                    []byte
	digestHeader            string
}

func startFuzzRegistry() *httptest.Server {
	fuzzRegistry.once.Do(func() {
		fuzzRegistry.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
			if r.URL.Path == "/v2/" {
				return
			}
			fuzzRegistry.mu.Lock()
			a := fuzzRegistry.resp
			fuzzRegistry.mu.Unlock()
			// No WWW-Authenticate and no Location: the client must never be sent anywhere
			// else (a fuzzed token realm or redirect would leave the machine).
			if a.retryAfter != "" {
				w.Header()["Retry-After"] = []string{a.retryAfter}
			}
			if a.contentType != "" {
				w.Header()["Content-Type"] = []string{a.contentType}
			}
			if a.digestHeader != "" {
				w.Header()["Docker-Content-Digest"] = []string{a.digestHeader}
			}
			w.WriteHeader(a.status)
			_, _ = w.Write(a.body)
		}))
	})
	return fuzzRegistry.srv
}

// validHeader keeps a fuzzed header value that net/http would send.
func validHeader(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r > 0x7e {
			return -1
		}
		return r
	}, s)
}

// FuzzRegistryResponse: whatever a registry answers, and whatever its Retry-After says,
// readManifest returns within its deadline (plus containers/image's bookkeeping), a 404
// is "not there" and not an error, a 2xx manifest comes back byte for byte with its digest,
// and the errors are classified like FuzzRetryable's.
func FuzzRegistryResponse(f *testing.F) {
	m := seedManifests()[0]
	f.Add(200, "", "application/vnd.docker.distribution.manifest.v2+json", m, false)
	f.Add(404, "", "application/json", []byte(`{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`), false)
	f.Add(404, "", "", []byte(nil), false)
	f.Add(429, "0", "", []byte(`{"errors":[{"code":"TOOMANYREQUESTS"}]}`), false)
	f.Add(429, "Wed, 21 Oct 2015 07:28:00 GMT", "", []byte(nil), false)
	f.Add(429, "-1", "", []byte(nil), false)
	f.Add(429, "9223372036854775807", "", []byte(nil), false)
	f.Add(503, "120", "text/html", []byte("<html>busy</html>"), false)
	f.Add(500, "", "", []byte(`{"errors":[{"code":"UNAUTHORIZED"}]}`), false)
	f.Add(401, "", "", []byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`), false)
	f.Add(403, "", "", []byte(`{"errors":[{"code":"DENIED"}]}`), false)
	f.Add(200, "", "application/vnd.oci.image.index.v1+json", seedManifests()[3], true)
	f.Add(302, "", "", []byte(nil), false)
	f.Add(204, "", "", []byte(nil), false)
	f.Fuzz(func(t *testing.T, status int, retryAfter, contentType string, body []byte, lieDigest bool) {
		if status < 200 || status > 599 {
			return // net/http refuses to write other codes
		}
		srv := startFuzzRegistry()
		a := registryAnswer{status: status, retryAfter: validHeader(retryAfter), contentType: validHeader(contentType), body: body}
		if lieDigest {
			a.digestHeader = "sha256:" + strings.Repeat("0", 64)
		}
		fuzzRegistry.mu.Lock()
		fuzzRegistry.resp = a
		fuzzRegistry.mu.Unlock()

		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		c := New(Options{})
		c.opts.tlsConfig = &tls.Config{RootCAs: pool}
		host := strings.TrimPrefix(srv.URL, "https://")
		ref, err := ParseImageName("docker://"+host+"/app:v1", nil)
		if err != nil {
			t.Fatal(err)
		}
		const deadline = 50 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		start := time.Now()
		have, err := readManifest(ctx, ref, c.systemContext(nil), nil)
		if took := time.Since(start); took > deadline+5*time.Second {
			t.Fatalf("readManifest took %v with a %v deadline (status %d, Retry-After %q)", took, deadline, status, a.retryAfter)
		}
		switch {
		case err != nil:
			ok, reason := Retryable(err)
			if ok != (reason != "") || (ok && (isUnauthorized(err) || isNotFound(err))) {
				t.Fatalf("Retryable(%v) = %v, %q", err, ok, reason)
			}
			// A refusal is final, unless the body's error codes say otherwise (a 401 whose
			// body says TOOMANYREQUESTS is a rate limit: containers/image keeps the code,
			// not the status).
			var codes errcode.Errors
			if (status == 401 || status == 403) && ok && (json.Unmarshal(body, &codes) != nil || len(codes) == 0) {
				t.Fatalf("HTTP %d retried: %v", status, err)
			}
		case have.found:
			if status != http.StatusOK {
				t.Fatalf("HTTP %d gave a manifest", status)
			}
			if string(have.bytes) != string(body) {
				t.Fatalf("the manifest changed on the way")
			}
		default:
			// "Not there" is a 404, or a registry's error code saying so.
			if status == http.StatusOK {
				t.Fatalf("HTTP 200 read as \"not there\"")
			}
		}
		var codes errcode.Errors
		if status == http.StatusNotFound && (json.Unmarshal(body, &codes) != nil || len(codes) == 0) {
			if err != nil || have.found {
				t.Fatalf("a plain 404 is \"not there\", got %+v, %v", have, err)
			}
		}
	})
}
