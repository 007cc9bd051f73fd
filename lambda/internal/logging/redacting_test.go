package logging

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

// presigned is the kind of URL ECR redirects blob GETs to; Go's url.Error quotes it in full.
const presigned = "https://prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com/x/y?" +
	"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request" +
	"&X-Amz-Security-Token=IQoJsessiontoken&X-Amz-SignedHeaders=host&X-Amz-Signature=0123456789abcdef"

var presignedSecrets = []string{"ASIAEXAMPLE", "IQoJsessiontoken", "0123456789abcdef"}

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

func TestEverySlogLineIsRedacted(t *testing.T) {
	var buf bytes.Buffer
	logger := Setup(&buf, "debug")
	urlErr := &url.Error{Op: "Get", URL: presigned, Err: errors.New("read: connection reset by peer")}

	logger.Error("request failed", "error", urlErr.Error())
	logger.Warn("as error value", "error", fmt.Errorf("reading blob: %w", urlErr))
	logger.Info("as stringer", "v", stringer{presigned})
	logger.Info("in a group", slog.Group("g", slog.String("url", presigned)))
	logger.With("ctx", presigned).Info("with attrs")
	slog.Info("message itself " + presigned)
	logger.Info("basic", "h", "Authorization: Basic QVdTOnNlY3JldA==")

	out := buf.String()
	for _, s := range append(presignedSecrets, "QVdTOnNlY3JldA==") {
		if strings.Contains(out, s) {
			t.Errorf("%q reached the log:\n%s", s, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 7 {
		t.Errorf("%d lines logged, want 7:\n%s", n, out)
	}
	// What is not secret stays readable.
	for _, keep := range []string{"connection reset by peer", "starport-layer-bucket", "request failed", `"ctx":`} {
		if !strings.Contains(out, keep) {
			t.Errorf("%q missing from the log:\n%s", keep, out)
		}
	}
}

func TestRedactPresignedQuery(t *testing.T) {
	out := Redact(`Get "` + presigned + `": EOF`)
	for _, s := range presignedSecrets {
		if strings.Contains(out, s) {
			t.Errorf("Redact left %q: %s", s, out)
		}
	}
}

// Registry tokens and JWTs are redacted by their shape wherever they stand: a bare token
// given as SrcCreds is quoted by nobody, but an error from elsewhere might.
func TestRedactTokensByShape(t *testing.T) {
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyb2JvdCJ9.c2lnbmF0dXJlLXBhcnQ"
	for token, kept := range map[string]string{
		"ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8":                      "ghp_REDACTED",
		"ghs_16C7e42F292c6912E7710c838347Ae178B4a":                      "ghs_REDACTED",
		"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123": "github_pat_REDACTED",
		"glpat-xxxxXXXXxxxx1234abcd":                                    "glpat-REDACTED",
		"dckr_pat_2b3e36beeb386dfdaacb9b46004ccb7c":                     "dckr_pat_REDACTED",
		jwt: "JWT-REDACTED",
	} {
		out := Redact(`reading the secret named in SrcCreds "` + token + `": not found`)
		if strings.Contains(out, token[len(token)-8:]) || !strings.Contains(out, kept) {
			t.Errorf("Redact(%s...) = %q, want %s in place of the token", token[:8], out, kept)
		}
	}
	// Digests, hosts and ordinary words are not tokens.
	for _, keep := range []string{"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"ghcr.io/owner/app:v1", "the glpat and ghp_ prefixes", "docker://gitlab.example.com/g/p:eyJ"} {
		if out := Redact(keep); out != keep {
			t.Errorf("Redact(%q) = %q", keep, out)
		}
	}
}
