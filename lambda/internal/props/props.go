// Package props turns CloudFormation ResourceProperties into a validated,
// typed Properties value.
//
// CloudFormation delivers every scalar of a custom resource as a string
// ("true", "3"), while tests and direct invocations may send JSON booleans,
// numbers and lists; both are accepted. Unknown properties are rejected so a
// typo fails the deployment instead of being silently ignored.
package props

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/rules"
	"go.podman.io/image/v5/docker/reference"
)

// The parsing of each kind of value lives in a file named after its noun: images.go (SrcImage,
// DestImage), names.go (the parsed registry names), platform.go (ImageArch), tags.go
// (ArchImageTags, DestTags), retry.go (RetryConfigs), removal.go (RemovalPolicy), role.go
// (SrcRoleArn, DestRoleArn) and values.go (how CloudFormation's strings become values).
// This file holds the Properties value and Parse, which reads them in order.

// Properties is the validated form of the custom resource's properties.
type Properties struct {
	SrcImage  string // transport:reference, e.g. docker://nginx:latest or s3://bucket/key; never both a tag and a digest
	DestImage string // always docker://...
	SrcCreds  string
	DestCreds string
	// SrcRoleArn and DestRoleArn name IAM roles assumed to log in to an ECR registry (see role.go).
	SrcRoleArn  string
	DestRoleArn string
	// SrcTag is the tag given next to the digest in SrcImage (docker://name:tag@digest,
	// as Renovate writes it). It is informative only: the digest is what is copied, and
	// SrcImage holds name@digest.
	SrcTag string
	// ImageArch holds the requested architectures. Empty means "the default
	// single architecture" (amd64, as upstream).
	ImageArch      []Platform
	CopyImageIndex bool
	ArchImageTags  []ArchTag // sorted by Arch
	Retry          Retry
	DestTags       []string
	RemovalPolicy  RemovalPolicy
	// CopyReferrers copies the OCI 1.1 referrers (signatures, SBOMs, attestations) of every
	// copied manifest, and cosign's sha256-<hex>.sig/.att/.sbom tags.
	CopyReferrers bool
	// DestManifestFormat forces the destination's manifest format: "" keeps the source's
	// bytes, else one of ManifestFormats.
	DestManifestFormat string

	// Src and Dest are the registry names of SrcImage (nil unless docker://) and DestImage,
	// parsed once here (names.go): later layers use them and never parse the strings again.
	Src, Dest reference.Named
}

// known lists every accepted property (the rulebook's); the order is the one used in messages.
var known = rules.KnownProperties()

// ignored properties are sent by CloudFormation or CDK and carry no meaning here.
// ServiceTimeout (how long CloudFormation waits for the answer) is validated all the same,
// so a typo in it fails like any other bad value.
var ignored = rules.IgnoredProperties()

// ManifestFormats are the values of DestManifestFormat (skopeo's --format names): OCI image
// manifests, and Docker schema 2.
var ManifestFormats = []string{"oci", "v2s2"}

func invalid(prop, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", errs.ErrInvalidProperty, prop, fmt.Sprintf(format, args...))
}

// Parse validates raw ResourceProperties.
func Parse(raw map[string]any) (*Properties, error) {
	var unknown []string
	for k := range raw {
		if !slices.Contains(known, k) && !slices.Contains(ignored, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("%w: unknown property %s; allowed: %s", errs.ErrInvalidProperty,
			quoteAll(unknown), strings.Join(known, ", "))
	}
	if err := validateServiceTimeout(raw["ServiceTimeout"]); err != nil {
		return nil, err
	}

	p := &Properties{Retry: DefaultRetry, RemovalPolicy: Retain}
	var err error
	if p.SrcImage, err = requiredString(raw, "SrcImage"); err != nil {
		return nil, err
	}
	if p.DestImage, err = requiredString(raw, "DestImage"); err != nil {
		return nil, err
	}
	if p.SrcCreds, err = optionalString(raw, "SrcCreds"); err != nil {
		return nil, err
	}
	if p.DestCreds, err = optionalString(raw, "DestCreds"); err != nil {
		return nil, err
	}
	if p.SrcRoleArn, err = parseRoleArn(raw, "SrcRoleArn"); err != nil {
		return nil, err
	}
	if p.DestRoleArn, err = parseRoleArn(raw, "DestRoleArn"); err != nil {
		return nil, err
	}
	if err := validateSrc(p.SrcImage); err != nil {
		return nil, err
	}
	p.SrcImage, p.SrcTag = dropTagBeforeDigest(p.SrcImage)
	if err := validateDest(p.DestImage); err != nil {
		return nil, err
	}
	if p.ImageArch, err = parseArchList(raw["ImageArch"]); err != nil {
		return nil, err
	}
	if p.CopyImageIndex, err = parseBool(raw, "CopyImageIndex"); err != nil {
		return nil, err
	}
	if p.ArchImageTags, err = parseArchTags(raw["ArchImageTags"]); err != nil {
		return nil, err
	}
	if p.Retry, err = parseRetry(raw["RetryConfigs"]); err != nil {
		return nil, err
	}
	if p.DestTags, err = parseDestTags(raw["DestTags"]); err != nil {
		return nil, err
	}
	if p.RemovalPolicy, err = parseRemovalPolicy(raw["RemovalPolicy"]); err != nil {
		return nil, err
	}
	if p.CopyReferrers, err = parseBool(raw, "CopyReferrers"); err != nil {
		return nil, err
	}
	if p.DestManifestFormat, err = optionalString(raw, "DestManifestFormat"); err != nil {
		return nil, err
	}
	if p.DestManifestFormat != "" && !slices.Contains(ManifestFormats, p.DestManifestFormat) {
		return nil, invalid("DestManifestFormat", "must be one of %s, got %q", strings.Join(ManifestFormats, ", "), p.DestManifestFormat)
	}

	// Same rules as the construct enforces at synth time, repeated here
	// because the handler can be invoked with hand-written properties.
	if len(p.ImageArch) > 0 && p.CopyImageIndex {
		return nil, invalid("ImageArch", "cannot be combined with CopyImageIndex (an index copy already includes every architecture)")
	}
	if len(p.ArchImageTags) > 0 && !p.CopyImageIndex {
		return nil, invalid("ArchImageTags", "requires CopyImageIndex to be true")
	}
	if p.CopyReferrers && p.DestManifestFormat != "" {
		// A converted manifest has a new digest: the source's referrers name the old one.
		return nil, invalid("CopyReferrers", "cannot be combined with DestManifestFormat (a converted manifest gets a new digest, and signatures and referrers name the source's digest)")
	}
	if p.CopyReferrers && !strings.HasPrefix(p.SrcImage, "docker://") {
		return nil, invalid("CopyReferrers", "needs a registry source (docker://): archives carry no referrers")
	}
	if err := p.parseNames(); err != nil {
		return nil, err
	}
	return p, nil
}

// validateServiceTimeout checks ServiceTimeout, which CloudFormation reads itself (seconds
// it waits for the response, 1 to 3600) and passes on in ResourceProperties; CloudFormation
// sends it as a string, direct invocations may send a number.
func validateServiceTimeout(v any) error {
	if v == nil {
		return nil
	}
	var text string
	switch t := v.(type) {
	case string:
		text = strings.TrimSpace(t)
	case float64:
		text = strconv.FormatFloat(t, 'f', -1, 64)
	case json.Number:
		text = t.String()
	case int:
		text = strconv.Itoa(t)
	default:
		return invalid("ServiceTimeout", "must be a whole number of seconds (string or number), got %s", typeName(v))
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 1 || n > 3600 {
		return invalid("ServiceTimeout", "must be a whole number of seconds from 1 to 3600, got %q", text)
	}
	return nil
}
