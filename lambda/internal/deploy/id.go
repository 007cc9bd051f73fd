package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"

	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// The PhysicalResourceId is the only state CloudFormation carries from one event of a
// resource to the next, and the Delete event after a failed Create, a replacement or a
// rollback carries nothing else that says what this resource wrote. So the id records it:
//
//	<destination name:tag>@<digest this resource copied>#<owner fingerprint>
//
// e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1@sha256:…#3f2a9c01b7de. Delete removes
// a tag only while it still points at that digest. An id without a digest (a failed Create, or
// a resource made by upstream's handler, whose ids are log stream names) owns nothing, so its
// Delete removes nothing: an image that was there before a failed Create survives the
// rollback.
//
// The fingerprint names the properties that wrote the id (what they own: repository, tags,
// arch tags, RemovalPolicy). An Update's OldResourceProperties are not always those: the
// Update that UPDATE_ROLLBACK sends after a failed Update carries the failed properties as
// old ones, and they never wrote anything. So old properties count for a release only while
// their fingerprint is the id's (Deployer.Run). Ids written before fingerprints existed have
// none, and their old properties never count: a tag may stay behind, none is lost.

// formatID is the id of a resource that copied d to dest under properties p.
func formatID(dest reference.Named, d digest.Digest, p *props.Properties) string {
	name := props.NormalizedName(dest) + "@" + d.String()
	if _, byDigest := dest.(reference.Digested); byDigest {
		// The destination's digest is what was copied: the name already says it.
		name = props.NormalizedName(dest)
	}
	return name + "#" + ownerFingerprint(p)
}

// fingerprintLen is the fingerprint's length in hex digits: 48 bits, as ids are meant to be read
// by people and a collision can only keep an old tag, never remove one that p names.
const fingerprintLen = 12

// ownerFingerprint is a short hash of what p owns once copied.
func ownerFingerprint(p *props.Properties) string {
	o, _ := ownedUnder(p, "")
	tags := slices.Clone(o.Tags)
	for _, at := range o.ArchTags {
		tags = append(tags, at.Arch+"="+at.Tag)
	}
	slices.Sort(tags)
	h := sha256.New()
	fmt.Fprintf(h, "owner/v1\n%s\n%s\n%t\n%s", p.RemovalPolicy, props.NormalizedName(o.Repo), o.Manifest, strings.Join(tags, "\n"))
	return hex.EncodeToString(h.Sum(nil))[:fingerprintLen]
}

// writtenBy says whether the id was written under properties p (see the fingerprint above).
func writtenBy(id string, p *props.Properties) bool {
	_, fp, ok := strings.Cut(id, "#")
	return ok && p != nil && fp == ownerFingerprint(p)
}

// ownedDigest is the digest an id says this resource wrote; ok is false for ids that own
// nothing.
func ownedDigest(id string) (digest.Digest, bool) {
	id, _, _ = strings.Cut(id, "#")
	i := strings.LastIndex(id, "@")
	if i < 0 {
		return "", false
	}
	d, err := digest.Parse(id[i+1:])
	if err != nil {
		return "", false
	}
	return d, true
}

// ProvisionalID is the id of a Create that failed before it decided one (invalid properties,
// a timeout, a panic): the normalized destination, which carries no digest and so owns
// nothing. A destination given by digest does not lend its digest to it. "" when the
// properties name no readable destination.
func ProvisionalID(raw map[string]any) string {
	name, _, _ := strings.Cut(props.DestinationID(raw), "@")
	return name
}
