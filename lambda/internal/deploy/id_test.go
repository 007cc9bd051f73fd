package deploy

import (
	"slices"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"

	"github.com/cdk-ecr-deployment/handler/internal/props"
)

var testDigest = digest.Digest("sha256:" + strings.Repeat("ab", 32))

func mustNamed(t *testing.T, s string) reference.Named {
	t.Helper()
	n, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIDRecordsTheCopiedDigest(t *testing.T) {
	writer := propsFor(t, "docker://r.io/app:v1")
	fp := "#" + ownerFingerprint(writer)
	for _, tc := range []struct{ dest, want string }{
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1", "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1@" + testDigest.String() + fp},
		{"Registry.Example.COM:5000/team/app", "registry.example.com:5000/team/app:latest@" + testDigest.String() + fp},
		{"nginx", "docker.io/library/nginx:latest@" + testDigest.String() + fp},
		{"r.io/app@" + testDigest.String(), "r.io/app@" + testDigest.String() + fp},
	} {
		id := formatID(mustNamed(t, tc.dest), testDigest, writer)
		if id != tc.want {
			t.Errorf("formatID(%s) = %q, want %q", tc.dest, id, tc.want)
		}
		if d, ok := ownedDigest(id); !ok || d != testDigest {
			t.Errorf("ownedDigest(%q) = %q, %v", id, d, ok)
		}
		if len(id) > 1024 {
			t.Errorf("id is %d bytes, over CloudFormation's 1 KB", len(id))
		}
	}
	// Ids that own nothing: a failed create, upstream's log stream names, garbage.
	for _, id := range []string{"r.io/app:v1", nameOnly(mustNamed(t, "r.io/app@"+testDigest.String())),
		"2024/01/01/[$LATEST]0123456789abcdef", "ecr-deployment-0123456789abcdef", "r.io/app:v1@sha256:short", ""} {
		if d, ok := ownedDigest(id); ok {
			t.Errorf("ownedDigest(%q) = %s, want none", id, d)
		}
	}
}

func propsFor(t *testing.T, dest string, destTags ...string) *props.Properties {
	t.Helper()
	raw := map[string]any{"SrcImage": "docker://src.io/app:1", "DestImage": dest, "RemovalPolicy": "destroy"}
	if len(destTags) > 0 {
		tags := make([]any, len(destTags))
		for i, s := range destTags {
			tags[i] = s
		}
		raw["DestTags"] = tags
	}
	p, err := props.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// An Update that copies the same digest keeps its id, so CloudFormation sends no clean-up
// Delete; it releases only what the new properties no longer name.
func TestReleaseKeepsWhatTheNewPropertiesName(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new *props.Properties
		want     []string
	}{
		{"tag renamed, shared DestTag", propsFor(t, "docker://r.io/app:v1", "latest"), propsFor(t, "docker://r.io/app:v2", "latest"), []string{"v1"}},
		{"host case and white space only", propsFor(t, "docker://r.io/app:v1"), propsFor(t, " docker://R.IO/app:v1 "), nil},
		{"another repository", propsFor(t, "docker://r.io/app:v1", "latest"), propsFor(t, "docker://r.io/other:v1", "latest"), []string{"v1", "latest"}},
		{"old tag now a DestTag", propsFor(t, "docker://r.io/app:v1"), propsFor(t, "docker://r.io/app:v2", "v1"), nil},
	} {
		o, err := ownedUnder(tc.old, testDigest)
		if err != nil {
			t.Fatal(err)
		}
		got, err := release(o, tc.new)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Tags, tc.want) {
			t.Errorf("%s: released %v, want %v", tc.name, got.Tags, tc.want)
		}
	}
}

// The fingerprint tells the properties that wrote an id from others: what they own counts, and
// nothing else (a new source, retries, a spelling of the same destination).
func TestWrittenByNamesTheOwningProperties(t *testing.T) {
	a := propsFor(t, "docker://r.io/app:v1")
	id := formatID(a.Dest, testDigest, a)
	same := map[string]*props.Properties{
		"the same properties":         propsFor(t, "docker://r.io/app:v1"),
		"host case and white space":   propsFor(t, " docker://R.IO/app:v1 "),
		"the dest tag also a DestTag": propsFor(t, "docker://r.io/app:v1", "v1"),
	}
	for name, p := range same {
		if !writtenBy(id, p) {
			t.Errorf("%s: writtenBy = false, want true", name)
		}
	}
	other := map[string]*props.Properties{
		"a DestTag more":     propsFor(t, "docker://r.io/app:v1", "latest"),
		"another tag":        propsFor(t, "docker://r.io/app:v2"),
		"another repository": propsFor(t, "docker://r.io/other:v1"),
		"another host":       propsFor(t, "docker://q.io/app:v1"),
		"by digest":          propsFor(t, "docker://r.io/app@"+testDigest.String()),
	}
	for name, p := range other {
		if writtenBy(id, p) {
			t.Errorf("%s: writtenBy = true, want false", name)
		}
	}
	retain, err := props.Parse(map[string]any{"SrcImage": "docker://src.io/app:1", "DestImage": "docker://r.io/app:v1"})
	if err != nil {
		t.Fatal(err)
	}
	if writtenBy(id, retain) {
		t.Error("RemovalPolicy retain: writtenBy = true for an id written under destroy")
	}
	// Ids that carry no fingerprint (this handler before fingerprints) are written by no one.
	if writtenBy("r.io/app:v1@"+testDigest.String(), a) || writtenBy(id, nil) {
		t.Error("an id without a fingerprint, or nil properties: writtenBy = true")
	}
}
