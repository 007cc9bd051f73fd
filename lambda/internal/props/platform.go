package props

// ImageArch: the platforms asked for, by the rulebook's grammar (shared with the construct,
// which warns where this refuses).

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/cdk-ecr-deployment/handler/internal/rules"
)

// Platform is one requested platform, e.g. arm64, arm/v7 or windows/amd64.
type Platform struct {
	OS      string // empty means linux (ParsePlatform never sets "linux")
	Arch    string
	Variant string // empty means any variant
}

// String is the platform as written in ImageArch: the OS only when it is not linux.
func (p Platform) String() string {
	s := p.Arch
	if p.OS != "" && p.OS != rules.DefaultOS() {
		s = p.OS + "/" + s
	}
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Full is os/arch[/variant], as index entries are written in messages.
func (p Platform) Full() string {
	s := p.OSName() + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// OSName is the platform's OS, linux when none was given.
func (p Platform) OSName() string {
	if p.OS == "" {
		return rules.DefaultOS()
	}
	return p.OS
}

// KnownArchitectures are the rulebook's known architectures. ImageArch and
// ArchImageTags take others too (the construct warns): an index may hold them.
var KnownArchitectures = rules.KnownArchitectures()

// ParsePlatform parses an ImageArch entry such as "arm64", "arm/v7" or
// "linux/arm64/v8" by the rulebook's grammar.
func ParsePlatform(s string) (Platform, error) {
	p, err := rules.ParsePlatform(strings.TrimSpace(s))
	if err != nil {
		return Platform{}, err
	}
	out := Platform{OS: p.OS, Arch: p.Architecture, Variant: p.Variant}
	if out.OS == rules.DefaultOS() {
		out.OS = "" // one value per platform: linux/arm64 and arm64 compare equal
	}
	return out, nil
}

func parseArchList(v any) ([]Platform, error) {
	var items []string
	switch t := v.(type) {
	case nil:
		return nil, nil
	case string:
		t = strings.TrimSpace(t)
		if t == "" {
			return nil, nil
		}
		if strings.HasPrefix(t, "[") {
			if err := json.Unmarshal([]byte(t), &items); err != nil {
				return nil, invalid("ImageArch", "not a JSON list of strings: %v", err)
			}
		} else {
			items = strings.Split(t, ",")
		}
	case []any:
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, invalid("ImageArch", "list entries must be strings, got %s", typeName(e))
			}
			items = append(items, s)
		}
	default:
		return nil, invalid("ImageArch", "must be a string or a list, got %s", typeName(v))
	}
	var out []Platform
	for _, it := range items {
		p, err := ParsePlatform(it)
		if err != nil {
			return nil, invalid("ImageArch", "%v", err)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}
