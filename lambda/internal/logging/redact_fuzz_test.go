package logging

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// Secret markers. Every fuzzed string that is not a secret has 'Q' removed, so the markers
// can only come from the secret positions they are put in: a marker in the output is a
// secret that survived redaction.
const (
	markPass  = "QPASS" // URL password
	markUser  = "QUSER" // URL user name (userinfo is redacted as a whole)
	markQuery = "QQRY"  // any query value of a scheme://... URL
	markSig   = "QSIG"  // a signed parameter outside a scheme://... URL
	markToken = "QTOK"  // an Authorization header value
)

func noQ(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "Q", ""), "q", "") }

// keepOnly drops every byte of s not in allowed.
func keepOnly(s, allowed string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(allowed, s[i]) >= 0 {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

const (
	hostChars  = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPRSTUVWXYZ0123456789.-"
	tokenChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPRSTUVWXYZ0123456789._~+/=-"
)

var schemes = []string{"https", "http", "s3", "oci", "ftp", "HTTPS"}

// maxRedacted bounds Redact's output: a replacement adds at most 8 bytes ("REDACTED") to a
// match of at least 2.
func maxRedacted(n int) int { return 5*n + 16 }

// FuzzRedact builds log text around fuzzed strings: a URL with a password, a query whose
// values are all secret (a presigned blob URL, whatever the parameter names), a signed query
// without a scheme and an Authorization header, set in the forms errors and log lines take
// (plain, Go's url.Error, %q, JSON). PROPERTY: no marker survives Redact. It also checks
// that arbitrary text never makes Redact panic or grow without bound.
func FuzzRedact(f *testing.F) {
	f.Add("copying failed:", "AWS", "t0ken", "prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com", uint16(0),
		"/x/y", "X-Amz-Signature", "0123456789abcdef", "IQoJsessiontoken", ": EOF", uint8(0))
	f.Add("Get", "robot$app", "pa:ss/w@rd?#", "registry.example.com", uint16(5000), "/v2/app/blobs/sha256:0011",
		"sig", "AzUreS1g%2B", "eyJhbGciOi.eyJzdWIi.c2ln", "dial tcp: i/o timeout", uint8(1))
	f.Add("2", "u", "p", "sha256", uint16(5000), "", "token", "v", "t", "", uint8(2))
	f.Add("_", "", "", "h", uint16(443), "/", "a", "", "", `"`, uint8(3))
	f.Add("x\"", "user name", "pass word", "storage.googleapis.com", uint16(0), "/b/o", "X-Goog-Credential",
		"sa@proj.iam.gserviceaccount.com/20240101", "Basic dXNlcjpwYXNz", "\n", uint8(4))
	f.Add(`\`, "a", "b", "localhost", uint16(0), "/p@th", "X-Amz-Security-Token", "FwoG//ZXI=", "tok", "'", uint8(5))
	f.Fuzz(func(t *testing.T, prefix, user, pass, host string, port uint16, path, param, value, token, suffix string, form uint8) {
		// Any text at all: no panic, bounded output, valid UTF-8 kept valid.
		for _, s := range []string{prefix, user + pass + host + path + param + value + token + suffix} {
			out := Redact(s)
			if len(out) > maxRedacted(len(s)) {
				t.Fatalf("Redact grew %d bytes to %d", len(s), len(out))
			}
			if utf8.ValidString(s) && !utf8.ValidString(out) {
				t.Fatalf("Redact(%q) = %q is not valid UTF-8", s, out)
			}
		}

		prefix, suffix, path, param = noQ(prefix), noQ(suffix), noQ(path), noQ(param)
		host = keepOnly(noQ(host), hostChars)
		if host == "" {
			host = "registry.example.com"
		}
		if port != 0 {
			host = fmt.Sprintf("%s:%d", host, port)
		}
		if param == "" {
			param = "X-Amz-Signature"
		}
		scheme := schemes[int(form)%len(schemes)]

		// 1. A URL with userinfo and a query: every value of the query is secret.
		q := url.Values{}
		q.Set(param, markQuery+value)
		q.Set("X-Amz-Signature", markQuery+value)
		u := (&url.URL{Scheme: scheme, User: url.UserPassword(markUser+user, markPass+pass), Host: host, Path: path, RawQuery: q.Encode()}).String()
		// 2. A signed query without a scheme, caught by parameter name.
		bare := host + path + "?X-Amz-Credential=" + markSig + url.QueryEscape(value) + "&sig=" + markSig + url.QueryEscape(value) +
			"&X-Goog-Signature=" + markSig + url.QueryEscape(value)
		// 3. An Authorization header value.
		tok := markToken + keepOnly(noQ(token), tokenChars)
		var header string
		switch form / 8 % 4 {
		case 0:
			header = "Authorization: Bearer " + tok
		case 1:
			header = `"Authorization":"Basic ` + tok + `"`
		case 2:
			header = "authorization=" + tok
		default:
			header = "Authorization: " + tok
		}

		var texts []string
		for _, secret := range []string{u, bare, header} {
			texts = append(texts,
				prefix+" "+secret+" "+suffix,
				prefix+secret+suffix,
				(&url.Error{Op: prefix, URL: secret, Err: errors.New(suffix)}).Error(),
				fmt.Sprintf("%s: %q", prefix, secret+suffix),
				fmt.Errorf("%s: %w", prefix, &url.Error{Op: "Get", URL: secret, Err: errors.New(suffix)}).Error(),
			)
			if b, err := json.Marshal(prefix + " " + secret + " " + suffix); err == nil {
				texts = append(texts, string(b))
			}
		}
		for _, in := range texts {
			out := Redact(in)
			for _, m := range []string{markPass, markUser, markQuery, markSig, markToken} {
				if strings.Contains(out, m) {
					t.Fatalf("secret %s survived:\n in  %q\n out %q", m, in, out)
				}
			}
			if len(out) > maxRedacted(len(in)) {
				t.Fatalf("Redact grew %d bytes to %d", len(in), len(out))
			}
		}
	})
}
