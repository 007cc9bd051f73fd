package logging

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// Blob GETs are redirected to signed URLs whose secret query parameters are
// named differently by every storage backend; an allow-list of names missed
// Azure's sig= and Google's X-Goog-*. Every query value must go, whatever its name.
func TestRedactRemovesEveryQueryValue(t *testing.T) {
	cases := []struct {
		name, url string
		keep      string // scheme, host and path survive
		secrets   []string
	}{
		{
			name: "S3 presigned (ECR layers)",
			url: "https://prod-eu-west-1-starport-layer-bucket.s3.eu-west-1.amazonaws.com/5a1b/c2d3?" +
				"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAS3CRED%2F20240101%2Feu-west-1%2Fs3%2Faws4_request" +
				"&X-Amz-Date=20240101T000000Z&X-Amz-Expires=3600&X-Amz-Security-Token=FwoGZXIvS3TOKEN" +
				"&X-Amz-SignedHeaders=host&X-Amz-Signature=a1b2c3d4s3sig",
			keep:    "https://prod-eu-west-1-starport-layer-bucket.s3.eu-west-1.amazonaws.com/5a1b/c2d3",
			secrets: []string{"ASIAS3CRED", "FwoGZXIvS3TOKEN", "a1b2c3d4s3sig", "20240101T000000Z", "AWS4-HMAC-SHA256"},
		},
		{
			name: "Azure blob SAS (GHCR's blob CDN)",
			url: "https://pkg-containers.githubusercontent.com/ghcr1/blobs/sha256:0011?" +
				"sv=2019-12-12&ss=b&srt=o&se=2024-01-01T00%3A10%3A00Z&sp=r&sig=AzUreS1gnature%2Bvalue%3D&x=y",
			keep:    "https://pkg-containers.githubusercontent.com/ghcr1/blobs/sha256:0011",
			secrets: []string{"AzUreS1gnature", "2019-12-12", "2024-01-01T00"},
		},
		{
			name: "GCS signed URL (Google Artifact Registry)",
			url: "https://storage.googleapis.com/artifacts-downloads/namespaces/p/blob?" +
				"X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=gar-sa%40proj.iam.gserviceaccount.com%2F20240101%2Fauto%2Fstorage%2Fgoog4_request" +
				"&X-Goog-Date=20240101T000000Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature=9f8e7dg00gsig",
			keep:    "https://storage.googleapis.com/artifacts-downloads/namespaces/p/blob",
			secrets: []string{"gar-sa", "gserviceaccount", "9f8e7dg00gsig", "GOOG4-RSA-SHA256"},
		},
		{
			name:    "plain URL with a query",
			url:     "https://registry.example.com/token?scope=repository%3Aapp%3Apull&service=registry.example.com&account=robot-plain",
			keep:    "https://registry.example.com/token",
			secrets: []string{"robot-plain", "repository%3Aapp", "service=registry"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			texts := map[string]string{
				"url.Error":     (&url.Error{Op: "Get", URL: tc.url, Err: errors.New("dial tcp 10.0.0.1:443: i/o timeout")}).Error(),
				"wrapped":       fmt.Errorf("copying layer sha256:0011: %w", &url.Error{Op: "Get", URL: tc.url, Err: errors.New("EOF")}).Error(),
				"hand-written":  `Get "` + tc.url + `": dial tcp: lookup host: no such host`,
				"bare":          "redirected to " + tc.url + " then failed",
				"single quoted": "fetching '" + tc.url + "' failed",
			}
			for form, in := range texts {
				out := Redact(in)
				// A value may legitimately occur outside the query (a host name in
				// service=, a one-letter value); only one that occurs nowhere else survived.
				elsewhere := strings.Replace(in, tc.url, tc.keep, 1)
				_, query, _ := strings.Cut(tc.url, "?")
				for _, kv := range strings.Split(query, "&") {
					_, v, _ := strings.Cut(kv, "=")
					if v != "" && strings.Contains(out, v) && !strings.Contains(elsewhere, v) {
						t.Errorf("%s: query value %q survived: %s", form, v, out)
					}
				}
				for _, s := range tc.secrets {
					if strings.Contains(out, s) {
						t.Errorf("%s: %q survived: %s", form, s, out)
					}
				}
				if !strings.Contains(out, tc.keep+"?REDACTED") {
					t.Errorf("%s: scheme, host and path not kept as %q: %s", form, tc.keep+"?REDACTED", out)
				}
			}
		})
	}
}

// What follows the URL in the error text stays readable: the cause is what the
// user needs to act on.
func TestRedactKeepsTheCause(t *testing.T) {
	in := `Get "https://h.example/p?sig=s3cr3t&a=b": dial tcp 10.0.0.1:443: connect: connection refused`
	want := `Get "https://h.example/p?REDACTED": dial tcp 10.0.0.1:443: connect: connection refused`
	if got := Redact(in); got != want {
		t.Errorf("Redact(%q)\n got  %q\n want %q", in, got, want)
	}
	// Go's %q escapes a quote inside the URL as \"; the query must not end there.
	quoted := (&url.Error{Op: "Get", URL: `https://h.example/p?a="x"&sig=hidd3n`, Err: errors.New("EOF")}).Error()
	if got := Redact(quoted); strings.Contains(got, "hidd3n") || !strings.HasSuffix(got, ": EOF") {
		t.Errorf("Redact(%q) = %q", quoted, got)
	}
	// References and URLs without a query are left alone; name@sha256: is a
	// digest, not userinfo.
	for _, s := range []string{
		"docker://nginx@sha256:0123 not found",
		"docker://nginx:1.25@sha256:0123 not found",
		`Get "https://r.example.com/v2/app/manifests/v1": EOF`,
		"s3://bucket/dir/img.tar:app:latest",
	} {
		if got := Redact(s); got != s {
			t.Errorf("Redact(%q) = %q", s, got)
		}
	}
}

// Signed parameters outside a scheme://... URL are still caught by name,
// including the names the Azure and Google backends use.
func TestRedactSignedParamsWithoutScheme(t *testing.T) {
	in := "bucket.example/k?sig=azs1g&X-Goog-Signature=gs1g&X-Goog-Credential=gcred&X-Amz-Signature=as1g"
	out := Redact(in)
	for _, s := range []string{"azs1g", "gs1g", "gcred", "as1g"} {
		if strings.Contains(out, s) {
			t.Errorf("%q survived: %s", s, out)
		}
	}
}

// The digest exception must not open a hole for real userinfo.
func TestRedactUserinfoStillRedacted(t *testing.T) {
	for in, bad := range map[string]string{
		"docker://robot:pa55@registry.example.com/app@sha256:0123":           "pa55",
		"https://AWS:t0ken@123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/": "t0ken",
		"https://only-user-s3cret@host.example/":                             "only-user-s3cret",
	} {
		if out := Redact(in); strings.Contains(out, bad) || !strings.Contains(out, "REDACTED@") {
			t.Errorf("Redact(%q) = %q", in, out)
		}
	}
}
