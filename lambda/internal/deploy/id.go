package deploy

import (
	"strings"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"

	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// The PhysicalResourceId is the only state CloudFormation carries from one event of a
// resource to the next, and the Delete event after a failed Create, a replacement or a
// rollback carries nothing else that says what this resource wrote. So the id records it:
//
//	<destination name:tag>@<digest this resource copied>
//
// e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1@sha256:…. Delete removes a tag
// only while it still points at that digest. An id without a digest (a failed Create, or a
// resource made by upstream's handler, whose ids are log stream names) owns nothing, so its
// Delete removes nothing: an image that was there before a failed Create survives the
// rollback.

// formatID is the id of a resource that copied d to dest.
func formatID(dest reference.Named, d digest.Digest) string {
	if _, byDigest := dest.(reference.Digested); byDigest {
		// The destination's digest is what was copied: the name already says it.
		return props.NormalizedName(dest)
	}
	return props.NormalizedName(dest) + "@" + d.String()
}

// ownedDigest is the digest an id says this resource wrote; ok is false for ids that own
// nothing.
func ownedDigest(id string) (digest.Digest, bool) {
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
