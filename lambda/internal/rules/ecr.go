package rules

import (
	"regexp"
	"slices"
	"strings"
)

// Partition is an AWS partition as the rulebook knows it.
type Partition struct {
	ID          string `json:"id"` // the ARN partition: aws, aws-cn, aws-us-gov, aws-iso, ...
	RegionRegex string `json:"regionRegex"`
	DNSSuffix   string `json:"dnsSuffix"`
}

// ECRHost is a registry host of ECR or ECR Public, parsed.
type ECRHost struct {
	Public    bool   // ECR Public (public.ecr.aws and its dual-stack name)
	Account   string // the registry's account; empty for ECR Public
	Region    string // where GetAuthorizationToken is called
	Partition string // the ARN partition
	DNSSuffix string // the host's suffix after the region (amazonaws.com, on.aws, ...); empty for ECR Public
	FIPS      bool
	DualStack bool
}

type privateHost struct {
	re        *regexp.Regexp
	dualStack bool
}

// hostPattern turns a host form such as "{account}.dkr.ecr{fips}.{region}.{dnsSuffix}"
// into an anchored regexp with named groups.
func hostPattern(form string, b *book) string {
	var suffixes []string
	for _, p := range b.ECR.Partitions {
		if q := regexp.QuoteMeta(p.DNSSuffix); !slices.Contains(suffixes, q) {
			suffixes = append(suffixes, q)
		}
	}
	r := strings.NewReplacer(
		regexp.QuoteMeta("{account}"), "(?P<account>"+b.ECR.Account+")",
		regexp.QuoteMeta("{region}"), "(?P<region>"+b.ECR.Region+")",
		regexp.QuoteMeta("{fips}"), "(?P<fips>-fips)?",
		regexp.QuoteMeta("{dnsSuffix}"), "(?P<dnsSuffix>"+strings.Join(suffixes, "|")+")",
	)
	return "^" + r.Replace(regexp.QuoteMeta(form)) + "$"
}

// ParseECRHost reports whether host (without a port) is an ECR or ECR Public
// registry, in which partition and region. Case is ignored, as in DNS.
func ParseECRHost(host string) (ECRHost, bool) {
	host = strings.ToLower(host)
	for _, p := range rb.ECR.PublicHosts {
		if host == p.Host {
			return ECRHost{Public: true, Region: rb.ECR.PublicRegion, Partition: rb.ECR.PublicPartition, DualStack: p.DualStack}, true
		}
	}
	for _, form := range rb.privateHosts {
		m := form.re.FindStringSubmatch(host)
		if m == nil {
			continue
		}
		group := func(name string) string { return m[form.re.SubexpIndex(name)] }
		h := ECRHost{Account: group("account"), Region: group("region"), FIPS: group("fips") != "", DualStack: form.dualStack}
		suffix := ""
		if i := form.re.SubexpIndex("dnsSuffix"); i >= 0 {
			suffix = m[i]
		}
		part, ok := partitionOf(h.Region, suffix)
		if !ok {
			return ECRHost{}, false
		}
		h.Partition = part.ID
		h.DNSSuffix = suffix
		if suffix == "" {
			// The form fixes the suffix (on.aws): it is what follows the region.
			h.DNSSuffix = host[strings.Index(host, "."+h.Region+".")+len(h.Region)+2:]
		}
		return h, true
	}
	return ECRHost{}, false
}

// partitionOf finds region's partition. suffix, when the host names one, must be
// that partition's: a China region under amazonaws.com is not an ECR host.
func partitionOf(region, suffix string) (Partition, bool) {
	for i, re := range rb.regionOf {
		if re.MatchString(region) {
			p := rb.ECR.Partitions[i]
			return p, suffix == "" || suffix == p.DNSSuffix
		}
	}
	// A region no partition knows yet (a new commercial one): the first
	// partition that uses the host's suffix, or the first partition.
	for _, p := range rb.ECR.Partitions {
		if suffix == "" || p.DNSSuffix == suffix {
			return p, true
		}
	}
	return Partition{}, false
}

// PartitionOfRegion returns the ARN partition of region ("aws" for a region no partition claims).
func PartitionOfRegion(region string) string {
	p, _ := partitionOf(region, "")
	return p.ID
}

// ECRPublicRegion is the only region serving ecr-public:GetAuthorizationToken.
func ECRPublicRegion() string { return rb.ECR.PublicRegion }
