package deploy

import (
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"

	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// FuzzOwnedDigest checks the PhysicalResourceId parser. CloudFormation hands back whatever
// id a resource has, including upstream's log stream names and ids of failed Creates, so
// ownedDigest sees arbitrary text: it may only claim a valid digest that ends the id's name
// part (before the fingerprint), and every id formatID writes gives back the digest it recorded.
func FuzzOwnedDigest(f *testing.F) {
	d := "sha256:" + strings.Repeat("ab", 32)
	for _, s := range []struct{ id, dest string }{
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1@" + d, "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1"},
		{"docker.io/library/nginx:latest", "nginx"},
		{"2024/01/01/[$LATEST]0123456789abcdef", "r.io/app@" + d},
		{"r.io/app@" + d, "Registry.Example.COM:5000/team/app"},
		{"a@b@" + d, "localhost/x"},
		{"r.io/app@sha256:short", "r.io/app:v1"},
		{"r.io/app@sha512:" + strings.Repeat("cd", 64), "r.io/app"},
		{"r.io/app:v1@" + d + "#0123456789ab", "r.io/app:v1"},
		{"r.io/app:v1#x@" + d, "r.io/app:v1"},
		{"@", ""},
		{"", "UPPER/x"},
	} {
		f.Add(s.id, s.dest)
	}
	writer, err := props.Parse(map[string]any{"SrcImage": "docker://src.io/app:1", "DestImage": "docker://r.io/app:v1"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, dest string) {
		got, ok := ownedDigest(id)
		if ok {
			if err := got.Validate(); err != nil {
				t.Fatalf("ownedDigest(%q) = invalid %q: %v", id, got, err)
			}
			if name, _, _ := strings.Cut(id, "#"); !strings.HasSuffix(name, "@"+got.String()) {
				t.Fatalf("ownedDigest(%q) = %q, which does not end the id's name part", id, got)
			}
		} else if got != "" {
			t.Fatalf("ownedDigest(%q) = %q without ok", id, got)
		}
		// Deterministic, and the digest is the only thing read: a prefix cannot change it.
		if g2, ok2 := ownedDigest("prefix/" + id); ok2 != ok || g2 != got {
			t.Fatalf("ownedDigest depends on the name part: %q/%v vs %q/%v", got, ok, g2, ok2)
		}

		named, err := reference.ParseNormalizedNamed(dest)
		if err != nil {
			return
		}
		// Any digest the fuzzer's id held (or a fixed one) round-trips through formatID.
		want := digest.Digest("sha256:" + strings.Repeat("ab", 32))
		if ok {
			want = got
		}
		full := formatID(named, want, writer)
		if len(full) > len(named.String())+len(":latest")+1+len(want.String())+len("#")+fingerprintLen {
			t.Fatalf("formatID(%q) = %q is longer than the name and digest", dest, full)
		}
		back, ok := ownedDigest(full)
		if !ok {
			t.Fatalf("ownedDigest(formatID(%q, %s)) = not owned (id %q)", dest, want, full)
		}
		if dg, byDigest := named.(reference.Digested); byDigest {
			// A destination given by digest: the id records that digest.
			if back != dg.Digest() {
				t.Fatalf("id %q records %s, want the destination's %s", full, back, dg.Digest())
			}
		} else if back != want {
			t.Fatalf("id %q records %s, want %s", full, back, want)
		}
		// An id that owns nothing really owns nothing.
		if _, ok := ownedDigest(nameOnly(named)); ok {
			t.Fatalf("nameOnly(%q) = %q owns a digest", dest, nameOnly(named))
		}
	})
}
