package props

// SrcImage and DestImage, checked as text before names.go parses them: the checks word
// containers/image's cryptic refusals plainly and name the property at fault.

import (
	"errors"
	"strings"

	"github.com/cdk-ecr-deployment/handler/internal/rules"
	"go.podman.io/image/v5/docker/reference"
)

// SrcTransports are the transports accepted in SrcImage.
var SrcTransports = []string{"docker://", "s3://", "docker-archive:", "oci-archive:"}

func validateSrc(s string) error {
	if strings.ContainsAny(s, " \t\n") {
		return invalid("SrcImage", "%q contains whitespace", s)
	}
	switch {
	case strings.HasPrefix(s, "docker://"):
		return validateDockerRef("SrcImage", strings.TrimPrefix(s, "docker://"))
	case strings.HasPrefix(s, "s3://"):
		if _, _, ok := rules.SplitS3URI(s); !ok {
			return invalid("SrcImage", "%q must look like s3://bucket/key[:ref]", s)
		}
		return nil
	case strings.HasPrefix(s, "docker-archive:"), strings.HasPrefix(s, "oci-archive:"):
		if _, p, _ := strings.Cut(s, ":"); p == "" {
			return invalid("SrcImage", "%q has no path", s)
		}
		return nil
	default:
		return invalid("SrcImage", "%q has an unsupported transport; use one of %s", s, strings.Join(SrcTransports, ", "))
	}
}

func validateDest(s string) error {
	rest, ok := strings.CutPrefix(s, "docker://")
	if !ok {
		return invalid("DestImage", "%q must start with docker:// (only registries can be destinations)", s)
	}
	if err := validateDockerRef("DestImage", rest); err != nil {
		return err
	}
	// A destination by digest is allowed (the copy is checked against it), but a tag next
	// to it would be either ignored or written, and neither is what the digest promises.
	if named, err := reference.ParseNormalizedNamed(rest); err == nil {
		if _, tagged := named.(reference.Tagged); tagged {
			if _, digested := named.(reference.Digested); digested {
				return invalid("DestImage", "%q has both a tag and a digest; give a tag or a digest, not both", s)
			}
		}
	}
	return nil
}

// dropTagBeforeDigest turns docker://name:tag@digest into docker://name@digest and
// returns the tag apart. containers/image's docker.ParseReference refuses references with
// both, while Renovate writes them; the digest is the exact image, the tag a comment.
// Anything else is returned unchanged.
func dropTagBeforeDigest(s string) (image, tag string) {
	rest, ok := strings.CutPrefix(s, "docker://")
	if !ok {
		return s, ""
	}
	named, err := reference.ParseNormalizedNamed(rest)
	if err != nil {
		return s, ""
	}
	tagged, isTagged := named.(reference.Tagged)
	digested, isDigested := named.(reference.Digested)
	if !isTagged || !isDigested {
		return s, ""
	}
	// Cut the tag out of the text as written, so that the name keeps its spelling in
	// messages (nginx stays nginx, not docker.io/library/nginx).
	suffix := ":" + tagged.Tag() + "@" + digested.Digest().String()
	if name, ok := strings.CutSuffix(rest, suffix); ok {
		return "docker://" + name + "@" + digested.Digest().String(), tagged.Tag()
	}
	c, err := reference.WithDigest(reference.TrimNamed(named), digested.Digest())
	if err != nil {
		return s, ""
	}
	return "docker://" + reference.FamiliarString(c), tagged.Tag()
}

func validateDockerRef(prop, s string) error {
	if strings.ContainsAny(s, " \t\n") {
		return invalid(prop, "%q contains whitespace", s)
	}
	if _, err := reference.ParseNormalizedNamed(s); err != nil {
		// The parser's message for upper-case repositories is cryptic; say it plainly.
		// ParseNormalizedNamed words that case as plain text; reference.Parse, which does not
		// normalize, returns the sentinel for it.
		if _, perr := reference.Parse(s); errors.Is(perr, reference.ErrNameContainsUppercase) {
			return invalid(prop, "%q: repository names must be lowercase", s)
		}
		return invalid(prop, "%q is not a valid image reference: %v", s, err)
	}
	return nil
}
