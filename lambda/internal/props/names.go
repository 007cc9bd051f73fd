package props

import (
	"strings"

	"go.podman.io/image/v5/docker/reference"
)

// parseNames sets Src and Dest from SrcImage and DestImage, once they are validated.
func (p *Properties) parseNames() error {
	dest, err := reference.ParseNormalizedNamed(strings.TrimPrefix(p.DestImage, "docker://"))
	if err != nil {
		return invalid("DestImage", "%q is not a valid image reference: %v", p.DestImage, err)
	}
	p.Dest = dest
	if rest, ok := strings.CutPrefix(p.SrcImage, "docker://"); ok {
		src, err := reference.ParseNormalizedNamed(rest)
		if err != nil {
			return invalid("SrcImage", "%q is not a valid image reference: %v", p.SrcImage, err)
		}
		p.Src = src
	}
	return nil
}

// DestinationID returns the normalized destination named in raw properties (see
// NormalizedName), or "" when there is none: docker://nginx, docker://docker.io/library/nginx:latest
// and " docker://Docker.IO/library/nginx " give the same value.
func DestinationID(raw map[string]any) string {
	s, ok := raw["DestImage"].(string)
	if !ok {
		return ""
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	rest, ok := strings.CutPrefix(s, "docker://")
	if !ok {
		return s
	}
	named, err := reference.ParseNormalizedNamed(rest)
	if err != nil {
		return s
	}
	return NormalizedName(named)
}

// NormalizedName is named with its registry host lowercased and the default tag added; a
// digest replaces the tag. Registry host names are case-insensitive (DNS), and repository
// paths are lowercase by the reference grammar, so two spellings of one destination give
// one name.
func NormalizedName(named reference.Named) string {
	name := reference.TrimNamed(named).String()
	if domain := reference.Domain(named); domain != "" {
		lowered := strings.ToLower(domain) + strings.TrimPrefix(name, domain)
		// Lowercasing must not change the repository: only the exact docker.io gets library/
		// added, so DoCker.IO/app lowercased would read as docker.io/library/app. Such a
		// name keeps its spelling.
		if again, err := reference.ParseNormalizedNamed(lowered); err == nil && again.Name() == lowered {
			name = lowered
		}
	}
	// Digested first: for name:tag@digest the digest is what is meant (and what is written).
	switch r := named.(type) {
	case reference.Digested:
		return name + "@" + r.Digest().String()
	case reference.Tagged:
		return name + ":" + r.Tag()
	}
	return name + ":latest"
}
