package props

// ArchImageTags and DestTags: tags the handler writes, so each must be a valid tag before
// anything is copied.

import (
	"slices"

	"github.com/cdk-ecr-deployment/handler/internal/rules"
)

// tagPattern is the rulebook's tag grammar, shared by ArchImageTags and DestTags.
var tagPattern = rules.TagRegexp()

func parseArchTags(v any) (map[string]string, error) {
	var m map[string]string
	present, err := jsonValue("ArchImageTags", v, &m)
	if err != nil || !present {
		return nil, err
	}
	for arch, tag := range m {
		if _, err := ParsePlatform(arch); err != nil {
			return nil, invalid("ArchImageTags", "%v", err)
		}
		if !tagPattern.MatchString(tag) {
			return nil, invalid("ArchImageTags", "tag %q for %s is not a valid tag (max 128 of [A-Za-z0-9_.-], not starting with . or -)", tag, arch)
		}
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
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
