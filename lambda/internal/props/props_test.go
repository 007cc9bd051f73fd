package props

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/rules"
)

func base() map[string]any {
	return map[string]any{
		"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:x",
		"SrcImage":     "docker://nginx:latest",
		"DestImage":    "docker://123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1",
	}
}

func with(kv ...any) map[string]any {
	m := base()
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

func TestDefaults(t *testing.T) {
	p, err := Parse(base())
	if err != nil {
		t.Fatal(err)
	}
	if p.Retry != DefaultRetry || p.RemovalPolicy != Retain || p.CopyImageIndex || len(p.ImageArch) != 0 {
		t.Errorf("defaults wrong: %+v", p)
	}
}

func TestGoodValues(t *testing.T) {
	cases := []struct {
		name  string
		raw   map[string]any
		check func(*Properties) bool
	}{
		{"one arch", with("ImageArch", "arm64"), func(p *Properties) bool {
			return reflect.DeepEqual(p.ImageArch, []Platform{{Arch: "arm64"}})
		}},
		{"comma list", with("ImageArch", "amd64, arm64"), func(p *Properties) bool {
			return reflect.DeepEqual(p.ImageArch, []Platform{{Arch: "amd64"}, {Arch: "arm64"}})
		}},
		{"json list string", with("ImageArch", `["arm/v7","linux/arm64"]`), func(p *Properties) bool {
			return reflect.DeepEqual(p.ImageArch, []Platform{{Arch: "arm", Variant: "v7"}, {Arch: "arm64"}})
		}},
		{"real list", with("ImageArch", []any{"amd64"}), func(p *Properties) bool { return len(p.ImageArch) == 1 }},
		// Upstream takes any architecture string; an index may hold one we do not know.
		{"unknown arch and os", with("ImageArch", `["sparc64","windows/amd64","linux/arm64/v8"]`), func(p *Properties) bool {
			return reflect.DeepEqual(p.ImageArch, []Platform{{Arch: "sparc64"}, {OS: "windows", Arch: "amd64"}, {Arch: "arm64", Variant: "v8"}})
		}},
		{"empty arch", with("ImageArch", ""), func(p *Properties) bool { return len(p.ImageArch) == 0 }},
		{"index string", with("CopyImageIndex", "true"), func(p *Properties) bool { return p.CopyImageIndex }},
		{"index bool", with("CopyImageIndex", true), func(p *Properties) bool { return p.CopyImageIndex }},
		{"index false", with("CopyImageIndex", "false"), func(p *Properties) bool { return !p.CopyImageIndex }},
		{"referrers", with("CopyReferrers", "true"), func(p *Properties) bool { return p.CopyReferrers && p.DestManifestFormat == "" }},
		{"referrers off by default", with(), func(p *Properties) bool { return !p.CopyReferrers }},
		{"format oci", with("DestManifestFormat", "oci"), func(p *Properties) bool { return p.DestManifestFormat == "oci" }},
		{"format v2s2", with("DestManifestFormat", "v2s2"), func(p *Properties) bool { return p.DestManifestFormat == "v2s2" }},
		{"arch tags", with("CopyImageIndex", "true", "ArchImageTags", `{"amd64":"v1-amd64","arm64":"v1-arm64"}`), func(p *Properties) bool {
			return len(p.ArchImageTags) == 2 && p.ArchImageTags[0] == ArchTag{Arch: "amd64", Platform: Platform{Arch: "amd64"}, Tag: "v1-amd64"} &&
				p.ArchImageTags[1] == ArchTag{Arch: "arm64", Platform: Platform{Arch: "arm64"}, Tag: "v1-arm64"}
		}},
		{"retry", with("RetryConfigs", `{"numAttempts":5,"baseDelay":0.5,"maxDelay":"20"}`), func(p *Properties) bool {
			return p.Retry == Retry{NumAttempts: 5, BaseDelay: 500 * time.Millisecond, MaxDelay: 20 * time.Second}
		}},
		{"retry partial", with("RetryConfigs", `{"numAttempts":1}`), func(p *Properties) bool {
			return p.Retry.NumAttempts == 1 && p.Retry.MaxDelay == DefaultRetry.MaxDelay
		}},
		{"dest tags", with("DestTags", `["latest","v1.2.3","latest"]`), func(p *Properties) bool {
			return reflect.DeepEqual(p.DestTags, []string{"latest", "v1.2.3"})
		}},
		{"destroy", with("RemovalPolicy", "DESTROY"), func(p *Properties) bool { return p.RemovalPolicy == Destroy }},
		{"creds", with("SrcCreds", "u:p:w", "DestCreds", "my-secret"), func(p *Properties) bool {
			return p.SrcCreds == "u:p:w" && p.DestCreds == "my-secret"
		}},
		{"s3 source", with("SrcImage", "s3://bucket/dir/img.tar:app:latest"), func(p *Properties) bool { return true }},
		{"port and digest", with("SrcImage", "docker://localhost:5000/a/b@sha256:"+strings.Repeat("a", 64),
			"DestImage", "docker://reg.example.com:8443/x/y:z"), func(p *Properties) bool { return true }},
		{"docker-archive", with("SrcImage", "docker-archive:/tmp/x.tar"), func(p *Properties) bool { return true }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(p) {
				t.Errorf("unexpected result %+v", p)
			}
		})
	}
}

func TestBadValues(t *testing.T) {
	cases := []struct {
		raw  map[string]any
		want []string
	}{
		{with("Bogus", "x"), []string{`unknown property "Bogus"`, "allowed: SrcImage"}},
		{with("SrcImage", nil), []string{"SrcImage", "required"}},
		{with("DestImage", ""), []string{"DestImage", "required"}},
		{with("DestImage", "s3://b/k"), []string{"DestImage", "docker://"}},
		{with("DestImage", "docker://Reg/UPPER:tag"), []string{"DestImage", "repository names must be lowercase"}},
		{with("DestImage", "docker://123456789012.dkr.ecr.us-east-1.amazonaws.com/MyApp:v1"), []string{"DestImage", "MyApp:v1\": repository names must be lowercase"}},
		{with("DestImage", "docker://a b"), []string{"DestImage", "whitespace"}},
		{with("SrcImage", "ftp://x"), []string{"SrcImage", "unsupported transport"}},
		{with("SrcImage", "s3://bucketonly"), []string{"SrcImage", "s3://bucket/key"}},
		{with("SrcImage", 3.0), []string{"SrcImage", "must be a string"}},
		{with("ImageArch", "SPARC"), []string{"ImageArch", `"SPARC"`, "os/arch[/variant]"}},
		{with("ImageArch", "arm/x7"), []string{"ImageArch", `"arm/x7"`, "arch/variant"}},
		{with("ImageArch", "linux/arm/v7/x"), []string{"ImageArch", "more than three parts"}},
		{with("ImageArch", `["amd64",`), []string{"ImageArch", "JSON"}},
		{with("ImageArch", true), []string{"ImageArch", "string or a list"}},
		{with("CopyImageIndex", "yes"), []string{"CopyImageIndex", `"true" or "false"`}},
		{with("CopyReferrers", "yes"), []string{"CopyReferrers", `"true" or "false"`}},
		{with("DestManifestFormat", "docker"), []string{"DestManifestFormat", "oci, v2s2", `"docker"`}},
		{with("CopyReferrers", "true", "DestManifestFormat", "oci"), []string{"CopyReferrers", "cannot be combined with DestManifestFormat"}},
		{with("CopyImageIndex", "true", "ImageArch", "arm64"), []string{"ImageArch", "CopyImageIndex"}},
		{with("ArchImageTags", `{"amd64":"x"}`), []string{"ArchImageTags", "requires CopyImageIndex"}},
		{with("CopyImageIndex", "true", "ArchImageTags", `{"amd64":"-bad"}`), []string{"ArchImageTags", `"-bad"`}},
		{with("CopyImageIndex", "true", "ArchImageTags", `{"m68k/x":"x"}`), []string{"ArchImageTags", "m68k/x"}},
		{with("CopyImageIndex", "true", "ArchImageTags", `["x"]`), []string{"ArchImageTags", "JSON"}},
		{with("RetryConfigs", `{"foo":1}`), []string{`RetryConfigs: unknown field "foo"; allowed: numAttempts, baseDelay, maxDelay`}},
		{with("RetryConfigs", `{"numAttempts":0}`), []string{"RetryConfigs", "numAttempts", "at least 1"}},
		{with("RetryConfigs", `{"numAttempts":1.5}`), []string{"RetryConfigs", "whole number"}},
		{with("RetryConfigs", `{"baseDelay":-1}`), []string{"RetryConfigs", "baseDelay", "at least 0"}},
		{with("RetryConfigs", `{"maxDelay":"soon"}`), []string{"RetryConfigs", "maxDelay", "not a number"}},
		{with("RetryConfigs", `{"baseDelay":5,"maxDelay":1}`), []string{"RetryConfigs", "maxDelay", "must not exceed"}},
		{with("DestTags", `["ok","bad tag"]`), []string{"DestTags", `"bad tag"`}},
		{with("DestTags", `["`+strings.Repeat("a", 129)+`"]`), []string{"DestTags", "max 128"}},
		{with("DestTags", `"latest"`), []string{"DestTags", "JSON"}},
		{with("RemovalPolicy", "snapshot"), []string{"RemovalPolicy", `"retain" or "destroy"`}},
	}
	for _, tc := range cases {
		_, err := Parse(tc.raw)
		if err == nil {
			t.Errorf("%v: no error", tc.raw)
			continue
		}
		if !errors.Is(err, errs.ErrInvalidProperty) {
			t.Errorf("%v: error %v is not ErrInvalidProperty", tc.raw, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
	}
}

func TestDestinationID(t *testing.T) {
	for in, want := range map[string]string{
		"docker://nginx": "docker.io/library/nginx:latest",
		"docker://docker.io/library/nginx:latest":           "docker.io/library/nginx:latest",
		"docker://localhost:5000/a/b:c":                     "localhost:5000/a/b:c",
		"docker://r.io/a@sha256:" + strings.Repeat("b", 64): "r.io/a@sha256:" + strings.Repeat("b", 64),
		"not-docker": "not-docker",
	} {
		if got := DestinationID(map[string]any{"DestImage": in}); got != want {
			t.Errorf("DestinationID(%q) = %q, want %q", in, got, want)
		}
	}
	if got := DestinationID(map[string]any{}); got != "" {
		t.Errorf("no DestImage gave %q", got)
	}
}

// DefaultRetry is the rulebook's defaults (the README's figures are checked against
// rules.json by test/readme-claims.test.ts), converted to attempts and durations.
func TestDefaultRetryIsTheRulebooks(t *testing.T) {
	for _, f := range rules.RetryFields() {
		var got float64
		switch f.Name {
		case "numAttempts":
			got = float64(DefaultRetry.NumAttempts)
		case "baseDelay":
			got = DefaultRetry.BaseDelay.Seconds()
		case "maxDelay":
			got = DefaultRetry.MaxDelay.Seconds()
		default:
			t.Errorf("the rulebook has a retry field %q that Retry does not carry", f.Name)
		}
		if got != f.Default || got == 0 {
			t.Errorf("DefaultRetry %s = %v, the rulebook says %v", f.Name, got, f.Default)
		}
	}
}
