package errs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// One case per text rule, each a message as the library formats it. Every rule must have
// its case, and each case must be classified by its own rule.
func TestFromText(t *testing.T) {
	cases := map[string]struct {
		msg  string
		kind error
	}{
		"statuscode: 401":                            {`fetching manifest: StatusCode: 401, "{\"errors\":[]}"`, ErrUnauthorized},
		"statuscode: 403":                            {`uploading manifest: StatusCode: 403, "Forbidden"`, ErrUnauthorized},
		"authentication required":                    {"reading manifest v1: unauthorized: authentication required", ErrUnauthorized},
		"requested access to the resource is denied": {"denied: requested access to the resource is denied", ErrUnauthorized},
		"statuscode: 404":                            {`StatusCode: 404, "404 page not found"`, ErrNotFound},
		"manifest unknown":                           {"reading manifest v9 in reg/app: manifest unknown", ErrNotFound},
		"image may not exist":                        {"Image may not exist or is not stored with a v2 Schema in a v2 registry", ErrNotFound},
		"statuscode: 500":                            {`StatusCode: 500, "oops"`, ErrTransient},
		"statuscode: 502":                            {`StatusCode: 502, "bad gateway"`, ErrTransient},
		"statuscode: 503":                            {`StatusCode: 503, "unavailable"`, ErrTransient},
		"statuscode: 504":                            {`StatusCode: 504, "gateway timeout"`, ErrTransient},
		"status: 500":                                {"received unexpected HTTP status: 500 Internal Server Error", ErrTransient},
		"status: 502":                                {"received unexpected HTTP status: 502 Bad Gateway", ErrTransient},
		"status: 503":                                {"received unexpected HTTP status: 503 Service Unavailable", ErrTransient},
		"status: 504":                                {"received unexpected HTTP status: 504 Gateway Timeout", ErrTransient},
		"toomanyrequests":                            {"toomanyrequests: Rate exceeded", ErrTransient},
		"too many requests":                          {"writing blob: Too Many Requests", ErrTransient},
		"connection reset":                           {"read tcp 10.0.0.1:51000->10.0.0.2:443: read: connection reset by peer", ErrTransient},
		"use of closed network connection":           {"write tcp 127.0.0.1:1->127.0.0.1:2: use of closed network connection", ErrTransient},
		"unexpected eof":                             {"reading blob sha256:ab: unexpected EOF", ErrTransient},
		"digest invalid":                             {"uploading manifest t12 to r.example/shared: digest invalid", ErrTransient},
		"tls handshake timeout":                      {"net/http: TLS handshake timeout", ErrTransient},
		"i/o timeout":                                {"dial tcp 10.0.0.9:443: i/o timeout", ErrTransient},
		"http2: server sent goaway":                  {"http2: server sent GOAWAY and closed the connection", ErrTransient},
		"slowdown":                                   {"api error SlowDown: Please reduce your request rate.", ErrTransient},
		"please reduce your request rate":            {"please reduce your request rate", ErrTransient},
	}
	for _, r := range textRules {
		c, ok := cases[r.substr]
		if !ok {
			t.Errorf("text rule %q has no test case", r.substr)
			continue
		}
		t.Run(r.substr, func(t *testing.T) {
			kind, reason := fromText(strings.ToLower(c.msg))
			if kind != c.kind || reason != r.substr {
				t.Errorf("fromText(%q) = %v, %q; want %v by rule %q", c.msg, kind, reason, c.kind, r.substr)
			}
			if got := Classify(errors.New(c.msg)); !errors.Is(got, c.kind) || got.Error() != c.msg {
				t.Errorf("Classify(%q) = %v, not %v with the same text", c.msg, got, c.kind)
			}
		})
	}
	if len(cases) != len(textRules) {
		t.Errorf("%d cases for %d rules", len(cases), len(textRules))
	}
}

// Classifying is done once: a classified error, or one that already wraps a sentinel, is
// returned as it is.
func TestClassifyOnce(t *testing.T) {
	err := Classify(errors.New("toomanyrequests: slow down"))
	if Classify(err) != err {
		t.Error("classifying twice wrapped again")
	}
	own := fmt.Errorf("%w: bad", ErrInvalidProperty)
	if Classify(own) != own {
		t.Error("an error wrapping a sentinel was classified")
	}
	if ok, reason := Retryable(err); !ok || reason != "toomanyrequests" {
		t.Errorf("Retryable = %v, %q", ok, reason)
	}
}
