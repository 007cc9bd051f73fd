// Package props turns CloudFormation ResourceProperties into a validated,
// typed Properties value.
//
// CloudFormation delivers every scalar of a custom resource as a string
// ("true", "3"), while tests and direct invocations may send JSON booleans,
// numbers and lists; both are accepted. Unknown properties are rejected so a
// typo fails the deployment instead of being silently ignored.
package props

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/rules"
	"go.podman.io/image/v5/docker/reference"
)

// RemovalPolicy says what happens to the destination tags when the resource is deleted.
type RemovalPolicy string

const (
	// Retain leaves the destination untouched on Delete (upstream behaviour, the default).
	Retain RemovalPolicy = "retain"
	// Destroy removes the destination tag, DestTags and ArchImageTags on Delete.
	Destroy RemovalPolicy = "destroy"
)

// Retry bounds the retries of transient failures.
type Retry struct {
	NumAttempts int           // total attempts, >= 1
	BaseDelay   time.Duration // first backoff
	MaxDelay    time.Duration // cap of a single backoff
}

// DefaultRetry is used when RetryConfigs is absent; fields missing from
// RetryConfigs take these values too (the rulebook's defaults).
var DefaultRetry = defaultRetry()

func defaultRetry() Retry {
	var r Retry
	for _, f := range rules.RetryFields() {
		switch f.Name {
		case "numAttempts":
			r.NumAttempts = int(f.Default)
		case "baseDelay":
			r.BaseDelay = time.Duration(f.Default * float64(time.Second))
		case "maxDelay":
			r.MaxDelay = time.Duration(f.Default * float64(time.Second))
		}
	}
	return r
}

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
	ArchImageTags  map[string]string // arch (as written by the user) -> tag
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

// KnownArchitectures are the rulebook's known architectures. ImageArch and
// ArchImageTags take others too (the construct warns): an index may hold them.
var KnownArchitectures = rules.KnownArchitectures()

var tagPattern = rules.TagRegexp()

// ManifestFormats are the values of DestManifestFormat (skopeo's --format names): OCI image
// manifests, and Docker schema 2.
var ManifestFormats = []string{"oci", "v2s2"}

// SrcTransports are the transports accepted in SrcImage.
var SrcTransports = []string{"docker://", "s3://", "docker-archive:", "oci-archive:"}

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

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

func requiredString(raw map[string]any, name string) (string, error) {
	s, err := optionalString(raw, name)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", invalid(name, "is required")
	}
	return s, nil
}

func optionalString(raw map[string]any, name string) (string, error) {
	v, ok := raw[name]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", invalid(name, "must be a string, got %s", typeName(v))
	}
	return strings.TrimSpace(s), nil
}

func typeName(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case float64, int, json.Number:
		return "number"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

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

func parseBool(raw map[string]any, name string) (bool, error) {
	switch t := raw[name].(type) {
	case nil:
		return false, nil
	case bool:
		return t, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "", "false":
			return false, nil
		case "true":
			return true, nil
		}
		return false, invalid(name, "must be \"true\" or \"false\", got %q", t)
	default:
		return false, invalid(name, "must be a boolean, got %s", typeName(t))
	}
}

// jsonValue accepts either a JSON document in a string (what CDK synthesizes)
// or the already-decoded value.
func jsonValue(prop string, v any, into any) (present bool, err error) {
	var data []byte
	switch t := v.(type) {
	case nil:
		return false, nil
	case string:
		if strings.TrimSpace(t) == "" {
			return false, nil
		}
		data = []byte(t)
	default:
		data, err = json.Marshal(t)
		if err != nil {
			return false, invalid(prop, "%v", err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		return false, invalid(prop, "not valid JSON of the expected shape: %v", err)
	}
	return true, nil
}

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

func parseRetry(v any) (Retry, error) {
	var m map[string]any
	present, err := jsonValue("RetryConfigs", v, &m)
	if err != nil || !present {
		return DefaultRetry, err
	}
	// The rulebook's fields, ranges and cross-field rule; numbers first, as CloudFormation
	// stringifies them.
	values := make(map[string]float64, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, err := number(m[k])
		if err != nil {
			return DefaultRetry, invalid("RetryConfigs", "%s: %v", k, err)
		}
		values[k] = f
	}
	if _, err := rules.RetryProblem(values); err != nil {
		return DefaultRetry, invalid("RetryConfigs", "%v", err)
	}
	r := DefaultRetry
	for k, f := range values {
		switch k {
		case "numAttempts":
			r.NumAttempts = int(f)
		case "baseDelay":
			r.BaseDelay = time.Duration(f * float64(time.Second))
		case "maxDelay":
			r.MaxDelay = time.Duration(f * float64(time.Second))
		}
	}
	return r, nil
}

func number(v any) (float64, error) {
	switch t := v.(type) {
	case json.Number:
		return t.Float64()
	case float64:
		return t, nil
	case string:
		// CloudFormation stringifies numbers nested in objects it passes through.
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil {
			return 0, fmt.Errorf("not a number: %q", t)
		}
		return f, nil
	default:
		return 0, fmt.Errorf("not a number: %s", typeName(v))
	}
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
