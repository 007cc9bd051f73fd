package props

// RemovalPolicy: what Delete does to the destination; its own noun because the delete
// path reads it and nothing else does.

import (
	"strings"
)

// RemovalPolicy says what happens to the destination tags when the resource is deleted.
type RemovalPolicy string

const (
	// Retain leaves the destination untouched on Delete (upstream behaviour, the default).
	Retain RemovalPolicy = "retain"
	// Destroy removes the destination tag, DestTags and ArchImageTags on Delete.
	Destroy RemovalPolicy = "destroy"
)

func parseRemovalPolicy(v any) (RemovalPolicy, error) {
	switch t := v.(type) {
	case nil:
		return Retain, nil
	case string:
		switch RemovalPolicy(strings.ToLower(strings.TrimSpace(t))) {
		case "", Retain:
			return Retain, nil
		case Destroy:
			return Destroy, nil
		}
		return "", invalid("RemovalPolicy", "must be \"retain\" or \"destroy\", got %q", t)
	default:
		return "", invalid("RemovalPolicy", "must be a string, got %s", typeName(v))
	}
}
