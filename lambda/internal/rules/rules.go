// Package rules reads rules.json, the rulebook shared with the construct: the
// platform grammar and known architectures, the tag grammar, the RetryConfigs
// fields, the S3 key/ref split and the ECR registry host forms of every
// partition. The construct compiles the same file into src/rules-data.generated.ts,
// and both languages run the cases in cases.json, so a rule changed here changes
// at synth time and at deploy time together.
package rules

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
)

//go:embed rules.json
var rulesJSON []byte

type book struct {
	Properties struct {
		Known   []string `json:"known"`
		Ignored []string `json:"ignored"`
	} `json:"properties"`
	Platform struct {
		DefaultOS          string   `json:"defaultOS"`
		KnownArchitectures []string `json:"knownArchitectures"`
		OS                 string   `json:"os"`
		Architecture       string   `json:"architecture"`
		Variant            string   `json:"variant"`
	} `json:"platform"`
	Tag struct {
		Pattern string `json:"pattern"`
	} `json:"tag"`
	Retry struct {
		Fields   []RetryField `json:"fields"`
		NotAbove [][2]string  `json:"notAbove"`
	} `json:"retry"`
	S3 struct {
		URI          string `json:"uri"`
		RefSeparator string `json:"refSeparator"`
	} `json:"s3"`
	ECR struct {
		Account      string `json:"account"`
		Region       string `json:"region"`
		PrivateHosts []struct {
			Form      string `json:"form"`
			DualStack bool   `json:"dualStack"`
		} `json:"privateHosts"`
		PublicHosts []struct {
			Host      string `json:"host"`
			DualStack bool   `json:"dualStack"`
		} `json:"publicHosts"`
		PublicRegion    string      `json:"publicRegion"`
		PublicPartition string      `json:"publicPartition"`
		Partitions      []Partition `json:"partitions"`
	} `json:"ecr"`
}

// compiled is the rulebook with its patterns compiled; built once at init, so a
// broken rules.json fails every test and the handler's first start, never a deploy.
type compiled struct {
	book
	os, arch, variant, tag, s3URI *regexp.Regexp
	privateHosts                  []privateHost
	regionOf                      []*regexp.Regexp // parallel to ECR.Partitions
}

var rb = mustCompile(rulesJSON)

func mustCompile(data []byte) *compiled {
	c, err := compile(data)
	if err != nil {
		panic(fmt.Sprintf("rules.json: %v", err))
	}
	return c
}

func compile(data []byte) (*compiled, error) {
	var c compiled
	if err := json.Unmarshal(data, &c.book); err != nil {
		return nil, err
	}
	var err error
	re := func(s string) *regexp.Regexp {
		r, e := regexp.Compile(s)
		if e != nil && err == nil {
			err = e
		}
		return r
	}
	c.os, c.arch, c.variant = re(c.Platform.OS), re(c.Platform.Architecture), re(c.Platform.Variant)
	c.tag, c.s3URI = re(c.Tag.Pattern), re(c.S3.URI)
	for _, p := range c.ECR.Partitions {
		c.regionOf = append(c.regionOf, re(p.RegionRegex))
	}
	for _, h := range c.ECR.PrivateHosts {
		c.privateHosts = append(c.privateHosts, privateHost{re: re(hostPattern(h.Form, &c.book)), dualStack: h.DualStack})
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// ValidTag reports whether s is a valid image tag.
func ValidTag(s string) bool { return rb.tag.MatchString(s) }

// TagPattern is the tag grammar, for messages.
func TagPattern() string { return rb.Tag.Pattern }

// KnownProperties lists the ResourceProperties the handler accepts, in message order.
func KnownProperties() []string { return slices.Clone(rb.Properties.Known) }

// IgnoredProperties are sent by CloudFormation or CDK and carry no meaning for the copy.
func IgnoredProperties() []string { return slices.Clone(rb.Properties.Ignored) }

// TagRegexp is the compiled tag grammar.
func TagRegexp() *regexp.Regexp { return rb.tag }
