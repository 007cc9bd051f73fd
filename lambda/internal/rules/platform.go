package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Platform is one ImageArch entry, parsed: linux/arm/v7 is {linux, arm, v7}.
type Platform struct {
	OS           string
	Architecture string
	Variant      string // empty: any variant
}

// ErrPlatformGrammar marks a string that is not arch, arch/variant or os/arch[/variant].
var ErrPlatformGrammar = errors.New("not a platform")

// ParsePlatform parses "arch", "arch/variant" or "os/arch[/variant]". An
// architecture outside KnownArchitectures parses: whether an index holds it is
// for the copy to find out.
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	var p Platform
	switch len(parts) {
	case 1:
		p = Platform{OS: rb.Platform.DefaultOS, Architecture: parts[0]}
	case 2:
		if rb.variant.MatchString(parts[1]) {
			p = Platform{OS: rb.Platform.DefaultOS, Architecture: parts[0], Variant: parts[1]}
		} else {
			p = Platform{OS: parts[0], Architecture: parts[1]}
		}
	case 3:
		p = Platform{OS: parts[0], Architecture: parts[1], Variant: parts[2]}
	default:
		return Platform{}, fmt.Errorf("%w: %q has more than three parts; write arch, arch/variant or os/arch[/variant], e.g. arm64 or linux/arm/v7", ErrPlatformGrammar, s)
	}
	// An architecture that reads as a variant (v7) would turn into one when written out in
	// full (linux/v7 is arch linux, variant v7): no such architecture exists, so it is refused.
	if !rb.os.MatchString(p.OS) || !rb.arch.MatchString(p.Architecture) || rb.variant.MatchString(p.Architecture) ||
		(p.Variant != "" || len(parts) == 3) && !rb.variant.MatchString(p.Variant) {
		return Platform{}, fmt.Errorf("%w: %q; write arch, arch/variant or os/arch[/variant] in lowercase, e.g. arm64, arm/v7 or linux/arm64/v8", ErrPlatformGrammar, s)
	}
	return p, nil
}

// KnownArchitectures are the architectures the construct accepts without a warning.
func KnownArchitectures() []string { return slices.Clone(rb.Platform.KnownArchitectures) }

// IsKnownArchitecture reports whether arch is in KnownArchitectures.
func IsKnownArchitecture(arch string) bool {
	return slices.Contains(rb.Platform.KnownArchitectures, arch)
}

// DefaultOS is the OS of a platform written without one.
func DefaultOS() string { return rb.Platform.DefaultOS }
