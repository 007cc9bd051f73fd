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
