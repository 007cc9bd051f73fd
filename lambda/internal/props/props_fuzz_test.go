package props

// Fuzz targets for the parsers of untrusted input in this package: ResourceProperties
// (Parse), ImageArch entries (ParsePlatform) and image names (NormalizedName over
// reference.ParseNormalizedNamed, as DestinationID and the PhysicalResourceId use it).
// Seeds are the f.Add calls below plus testdata/fuzz/<Target>/; scripts/fuzz.sh runs them.

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.podman.io/image/v5/docker/reference"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/rules"
)

// maxMessage bounds an error message for an input of n bytes: messages quote the input
// (%q escapes a byte as at most \xNN, a rune as at most \U0010FFFF) and add fixed text.
func maxMessage(n int) int { return 10*n + 2048 }

var fuzzDigest = "sha256:" + strings.Repeat("0123456789abcdef", 4)

// FuzzParse decodes the input as a ResourceProperties JSON object, as the Lambda runtime
// does (numbers as float64, or as json.Number when useNumber), and checks that Parse either
// refuses it with errs.ErrInvalidProperty or returns properties that keep every rule Parse
// promises, and that parsing those properties again gives the same value.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"SrcImage":"docker://nginx:latest","DestImage":"docker://123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1"}`,
		`{"ServiceToken":"arn:aws:lambda:us-east-1:1:function:x","ServiceTimeout":"300","SrcImage":"docker://nginx:1.25@` + fuzzDigest + `","DestImage":"docker://r.io/app:v1"}`,
		`{"SrcImage":"s3://bucket/dir/img.tar:app:v1","DestImage":"docker://r.io/app","ImageArch":"arm64,linux/arm/v7"}`,
		`{"SrcImage":"docker://a/b","DestImage":"docker://r.io/c","ImageArch":["amd64","arm64/v8"]}`,
		`{"SrcImage":"docker://a/b","DestImage":"docker://r.io/c","ImageArch":"[\"amd64\",\"386\"]"}`,
		`{"SrcImage":"docker://a/b","DestImage":"docker://r.io/c","CopyImageIndex":"true","ArchImageTags":"{\"arm64\":\"v1-arm64\",\"amd64\":\"v1-amd64\"}"}`,
		`{"SrcImage":"docker://a/b","DestImage":"docker://r.io/c","CopyImageIndex":true,"ArchImageTags":{"arm/v7":"v7"}}`,
		`{"SrcImage":"docker://a/b","DestImage":"docker://r.io/c","RetryConfigs":"{\"numAttempts\":5,\"baseDelay\":0.5,\"maxDelay\":30}"}`,
		`{"SrcImage":"docker://a/b","DestImage":"docker://r.io/c","RetryConfigs":{"numAttempts":"2","baseDelay":"1"}}`,
		`{"SrcImage":"docker://a/b","DestImage":"docker://r.io/c","DestTags":"[\"v1\",\"latest\",\"v1\"]","RemovalPolicy":"Destroy"}`,
		`{"SrcImage":"docker://a/b","DestImage":"docker://r.io/c","DestTags":["x"],"RemovalPolicy":"retain"}`,
		`{"SrcImage":"docker-archive:/tmp/a.tar","DestImage":"docker://localhost:5000/c@` + fuzzDigest + `"}`,
		`{"SrcImage":"oci-archive:/tmp/a.tar:tag","DestImage":"docker://Registry.Example.COM:5000/team/app"}`,
		`{"SrcImage":"docker://A/B","DestImage":"docker://r.io/c:1@` + fuzzDigest + `"}`,
		`{"SrcImage":"docker://a/b","DestImage":"docker://r.io/c","ServiceTimeout":3601}`,
		`{"SrcImage":"docker://a/b","DestImage":"docker://r.io/c","RetryConfigs":{"numAttempts":1e400}}`,
		`{"SrcImage":"docker://a/b","DestImage":"docker://r.io/c","RetryConfigs":{"baseDelay":1e300,"maxDelay":1e301}}`,
		`{"SrcImage":"docker://a/b","DestImage":"docker://r.io/c","TlsVerify":"false"}`,
		`{"SrcImage":" docker://a/b ","DestImage":"docker://r.io/c","SrcCreds":"user:pa:ss","DestCreds":"arn:aws:secretsmanager:us-east-1:1:secret:x"}`,
		`{"SrcImage":"http://x","DestImage":"s3://b/k"}`,
		`{}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, useNumber bool) {
		raw, ok := decodeObject(data, useNumber)
		if !ok {
			return
		}
		p, err := Parse(raw)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidProperty) {
				t.Fatalf("Parse error does not wrap ErrInvalidProperty: %v", err)
			}
			if p != nil {
				t.Fatalf("Parse returned both %+v and %v", p, err)
			}
			if n := len(err.Error()); n > maxMessage(len(data)) {
				t.Fatalf("error message of %d bytes for %d bytes of input", n, len(data))
			}
			return
		}
		checkProperties(t, p)

		// DestinationID (the fallback PhysicalResourceId) names the destination Parse accepted.
		id := DestinationID(raw)
		named, err := reference.ParseNormalizedNamed(strings.TrimPrefix(p.DestImage, "docker://"))
		if err != nil {
			t.Fatalf("accepted DestImage %q does not parse: %v", p.DestImage, err)
		}
		if want := NormalizedName(named); id != want {
			t.Fatalf("DestinationID = %q, want %q", id, want)
		}

		// Round trip: the parsed value, written back as properties, parses to itself.
		again, err := Parse(toRaw(p))
		if err != nil {
			t.Fatalf("re-parsing %+v: %v", p, err)
		}
		want := *p
		want.SrcTag = "" // the tag was cut out of SrcImage the first time
		// Delays go back as float seconds: a nanosecond of rounding is not a change.
		for _, d := range [][2]*time.Duration{{&again.Retry.BaseDelay, &want.Retry.BaseDelay}, {&again.Retry.MaxDelay, &want.Retry.MaxDelay}} {
			if diff := *d[0] - *d[1]; diff >= -time.Microsecond && diff <= time.Microsecond {
				*d[0] = *d[1]
			}
		}
		if !reflect.DeepEqual(*again, want) {
			t.Fatalf("round trip changed the properties:\n got %+v\nwant %+v", *again, want)
		}
	})
}

// decodeObject decodes a JSON object as the Lambda runtime decodes ResourceProperties.
func decodeObject(data []byte, useNumber bool) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if useNumber {
		dec.UseNumber()
	}
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, false
	}
	return raw, true
}

func checkProperties(t *testing.T, p *Properties) {
	t.Helper()
	if !slices.ContainsFunc(SrcTransports, func(tr string) bool { return strings.HasPrefix(p.SrcImage, tr) }) {
		t.Fatalf("SrcImage %q has no supported transport", p.SrcImage)
	}
	if strings.ContainsAny(p.SrcImage, " \t\n") || strings.ContainsAny(p.DestImage, " \t\n") {
		t.Fatalf("white space survived: %q, %q", p.SrcImage, p.DestImage)
	}
	if rest, ok := strings.CutPrefix(p.SrcImage, "docker://"); ok {
		named, err := reference.ParseNormalizedNamed(rest)
		if err != nil {
			t.Fatalf("accepted SrcImage %q does not parse: %v", p.SrcImage, err)
		}
		_, tagged := named.(reference.Tagged)
		_, digested := named.(reference.Digested)
		if tagged && digested {
			t.Fatalf("SrcImage %q kept both a tag and a digest", p.SrcImage)
		}
		if p.SrcTag != "" && !digested {
			t.Fatalf("SrcTag %q without a digest in %q", p.SrcTag, p.SrcImage)
		}
	} else if p.SrcTag != "" {
		t.Fatalf("SrcTag %q for a non-registry source %q", p.SrcTag, p.SrcImage)
	}
	rest, ok := strings.CutPrefix(p.DestImage, "docker://")
	if !ok {
		t.Fatalf("DestImage %q is not docker://", p.DestImage)
	}
	named, err := reference.ParseNormalizedNamed(rest)
	if err != nil {
		t.Fatalf("accepted DestImage %q does not parse: %v", p.DestImage, err)
	}
	_, tagged := named.(reference.Tagged)
	_, digested := named.(reference.Digested)
	if tagged && digested {
		t.Fatalf("DestImage %q has both a tag and a digest", p.DestImage)
	}
	if p.Retry.NumAttempts < 1 || p.Retry.BaseDelay < 0 || p.Retry.MaxDelay < p.Retry.BaseDelay {
		t.Fatalf("bad retry %+v", p.Retry)
	}
	if p.RemovalPolicy != Retain && p.RemovalPolicy != Destroy {
		t.Fatalf("bad RemovalPolicy %q", p.RemovalPolicy)
	}
	if len(p.ImageArch) > 0 && p.CopyImageIndex {
		t.Fatalf("ImageArch %v with CopyImageIndex", p.ImageArch)
	}
	if len(p.ArchImageTags) > 0 && !p.CopyImageIndex {
		t.Fatalf("ArchImageTags %v without CopyImageIndex", p.ArchImageTags)
	}
	for i, pl := range p.ImageArch {
		if q, err := ParsePlatform(pl.String()); err != nil || q != pl {
			t.Fatalf("bad platform %+v", pl)
		}
		if slices.Contains(p.ImageArch[:i], pl) {
			t.Fatalf("duplicate platform %+v in %v", pl, p.ImageArch)
		}
	}
	for i, at := range p.ArchImageTags {
		pl, err := ParsePlatform(at.Arch)
		if err != nil || pl != at.Platform || !tagPattern.MatchString(at.Tag) || (i > 0 && p.ArchImageTags[i-1].Arch >= at.Arch) {
			t.Fatalf("bad or unsorted arch tag %+v in %+v", at, p.ArchImageTags)
		}
	}
	for i, tag := range p.DestTags {
		if !tagPattern.MatchString(tag) || slices.Contains(p.DestTags[:i], tag) {
			t.Fatalf("bad or duplicate DestTag %q in %v", tag, p.DestTags)
		}
	}
}

// toRaw writes p back as ResourceProperties, in the form CloudFormation sends (strings).
func toRaw(p *Properties) map[string]any {
	raw := map[string]any{
		"SrcImage": p.SrcImage, "DestImage": p.DestImage,
		"RemovalPolicy": string(p.RemovalPolicy),
	}
	if p.SrcCreds != "" {
		raw["SrcCreds"] = p.SrcCreds
	}
	if p.DestCreds != "" {
		raw["DestCreds"] = p.DestCreds
	}
	if len(p.ImageArch) > 0 {
		archs := make([]any, len(p.ImageArch))
		for i, pl := range p.ImageArch {
			archs[i] = pl.String()
		}
		raw["ImageArch"] = archs
	}
	if p.CopyImageIndex {
		raw["CopyImageIndex"] = "true"
	}
	if len(p.ArchImageTags) > 0 {
		m := map[string]string{}
		for _, at := range p.ArchImageTags {
			m[at.Arch] = at.Tag
		}
		b, _ := json.Marshal(m)
		raw["ArchImageTags"] = string(b)
	}
	if p.Retry != DefaultRetry {
		raw["RetryConfigs"] = map[string]any{
			"numAttempts": float64(p.Retry.NumAttempts),
			"baseDelay":   p.Retry.BaseDelay.Seconds(),
			"maxDelay":    p.Retry.MaxDelay.Seconds(),
		}
	}
	if len(p.DestTags) > 0 {
		b, _ := json.Marshal(p.DestTags)
		raw["DestTags"] = string(b)
	}
	return raw
}

// FuzzParsePlatform checks ParsePlatform: what it accepts is what the rulebook's grammar
// accepts, and its String and full os/arch[/variant] forms parse to the same value.
func FuzzParsePlatform(f *testing.F) {
	for _, s := range []string{"amd64", "arm64", "arm/v7", "arm64/v8", " linux/arm/v6 ", "linux/amd64", "linux",
		"linux/linux/arm64", "arm/v", "arm/v7/extra", "ARM64", "riscv64", "loong64", "windows/amd64", "/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePlatform(s)
		if err != nil {
			if p != (Platform{}) {
				t.Fatalf("ParsePlatform(%q) returned %+v with %v", s, p, err)
			}
			if n := len(err.Error()); n > maxMessage(len(s)) {
				t.Fatalf("error message of %d bytes", n)
			}
			return
		}
		// What is accepted is grammatical, by the rulebook, and says the same when written out in full.
		if q, err := rules.ParsePlatform(strings.TrimSpace(s)); err != nil || q.OS != p.OSName() || q.Architecture != p.Arch || q.Variant != p.Variant {
			t.Fatalf("ParsePlatform(%q) = %+v, the rulebook says %+v, %v", s, p, q, err)
		}
		full := p.OSName() + "/" + p.Arch
		if p.Variant != "" {
			full += "/" + p.Variant
		}
		for _, again := range []string{p.String(), full, " " + p.String() + "\t"} {
			q, err := ParsePlatform(again)
			if err != nil || q != p {
				t.Fatalf("ParsePlatform(%q) = %+v, %v; want %+v (from %q)", again, q, err, p, s)
			}
		}
		// The ImageArch list form gives the same platform.
		list, err := parseArchList([]any{s})
		if err != nil || len(list) != 1 || list[0] != p {
			t.Fatalf("parseArchList([%q]) = %v, %v", s, list, err)
		}
	})
}

// FuzzNormalizedName checks NormalizedName over everything reference.ParseNormalizedNamed
// accepts: the name always carries a tag or a digest, is itself a valid reference, names the
// same registry, repository and tag/digest (so two different destinations never share a
// PhysicalResourceId), and normalizing it again changes nothing.
func FuzzNormalizedName(f *testing.F) {
	for _, s := range []string{"nginx", "nginx:1.25", "docker.io/library/nginx:latest", "Docker.IO/library/nginx",
		"Registry.Example.COM:5000/team/app", "localhost:5000/app:v1", "LOCALHOST/app", "Foo/bar", "foo/bar",
		"r.io/app@" + fuzzDigest, "r.io/app:v1@" + fuzzDigest, "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1",
		"[::1]:5000/app", "public.ecr.aws/alias/app", "a/b/c/d:e", "UPPER/app"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		named, err := reference.ParseNormalizedNamed(s)
		if err != nil {
			return
		}
		n := NormalizedName(named)
		if !utf8.ValidString(n) || len(n) > len(named.String())+len(":latest") {
			t.Fatalf("NormalizedName(%q) = %q", s, n)
		}
		again, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			t.Fatalf("NormalizedName(%q) = %q, which does not parse: %v", s, n, err)
		}
		if !strings.EqualFold(reference.Domain(again), reference.Domain(named)) || reference.Path(again) != reference.Path(named) {
			t.Fatalf("NormalizedName(%q) = %q names %s/%s, not %s/%s", s, n,
				reference.Domain(again), reference.Path(again), reference.Domain(named), reference.Path(named))
		}
		wantTag, wantDigest := "latest", ""
		if tg, ok := named.(reference.Tagged); ok {
			wantTag = tg.Tag()
		}
		if dg, ok := named.(reference.Digested); ok {
			wantTag, wantDigest = "", dg.Digest().String()
		}
		gotTag, gotDigest := "", ""
		if tg, ok := again.(reference.Tagged); ok {
			gotTag = tg.Tag()
		}
		if dg, ok := again.(reference.Digested); ok {
			gotDigest = dg.Digest().String()
		}
		if gotTag != wantTag || gotDigest != wantDigest {
			t.Fatalf("NormalizedName(%q) = %q: tag %q digest %q, want tag %q digest %q", s, n, gotTag, gotDigest, wantTag, wantDigest)
		}
		if n2 := NormalizedName(again); n2 != n {
			t.Fatalf("NormalizedName is not idempotent: %q -> %q -> %q", s, n, n2)
		}
		if id := DestinationID(map[string]any{"DestImage": " docker://" + s + " "}); id != n {
			t.Fatalf("DestinationID(docker://%s) = %q, want %q", s, id, n)
		}
	})
}
