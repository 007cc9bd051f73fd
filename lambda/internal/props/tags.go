package props

// ArchImageTags and DestTags: tags the handler writes, so each must be a valid tag before
// anything is copied.

import (
	"slices"
	"strings"

	"github.com/cdk-ecr-deployment/handler/internal/rules"
)

// tagPattern is the rulebook's tag grammar, shared by ArchImageTags and DestTags.
var tagPattern = rules.TagRegexp()

// ArchTag is one ArchImageTags entry, parsed once: the copy and the deletion both find the
// index child by Platform, and name it by Arch, as the user wrote it.
type ArchTag struct {
	Arch     string
	Platform Platform
	Tag      string
}

func parseArchTags(v any) ([]ArchTag, error) {
	var m map[string]string
	present, err := jsonValue("ArchImageTags", v, &m)
	if err != nil || !present {
		return nil, err
	}
	var out []ArchTag
	for arch, tag := range m {
		pl, err := ParsePlatform(arch)
		if err != nil {
			return nil, invalid("ArchImageTags", "%v", err)
		}
		if !tagPattern.MatchString(tag) {
			return nil, invalid("ArchImageTags", "tag %q for %s is not a valid tag (max 128 of [A-Za-z0-9_.-], not starting with . or -)", tag, arch)
		}
		out = append(out, ArchTag{Arch: arch, Platform: pl, Tag: tag})
	}
	// JSON objects have no order; tags are written and reported in a stable one.
	slices.SortFunc(out, func(a, b ArchTag) int { return strings.Compare(a.Arch, b.Arch) })
	return out, nil
}

func parseDestTags(v any) ([]string, error) {
	var tags []string
	present, err := jsonValue("DestTags", v, &tags)
	if err != nil || !present {
		return nil, err
	}
	var out []string
	for _, t := range tags {
		if !tagPattern.MatchString(t) {
			return nil, invalid("DestTags", "%q is not a valid tag (max 128 of [A-Za-z0-9_.-], not starting with . or -)", t)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}
