package props_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cdk-ecr-deployment/handler/internal/copier"
	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/props"
)

var digest = "sha256:" + strings.Repeat("0123456789abcdef", 4)

func raw(src, dest string) map[string]any {
	return map[string]any{"ServiceToken": "x", "SrcImage": src, "DestImage": dest}
}

// name:tag@digest (what Renovate writes) failed at deploy: containers/image refuses a
// reference with both. The digest wins; the tag is kept apart for messages.
func TestSourceTagAndDigest(t *testing.T) {
	for _, tc := range []struct{ src, want, tag string }{
		{"docker://nginx:1.25@" + digest, "docker://nginx@" + digest, "1.25"},
		{"docker://docker.io/library/nginx:1.25-alpine@" + digest, "docker://docker.io/library/nginx@" + digest, "1.25-alpine"},
		{"docker://localhost:5000/team/app:v1.2.3@" + digest, "docker://localhost:5000/team/app@" + digest, "v1.2.3"},
		{"docker://123456789012.dkr.ecr.us-east-1.amazonaws.com/base:latest@" + digest,
			"docker://123456789012.dkr.ecr.us-east-1.amazonaws.com/base@" + digest, "latest"},
		// Not both: unchanged, no tag.
		{"docker://nginx@" + digest, "docker://nginx@" + digest, ""},
		{"docker://localhost:5000/app:v1", "docker://localhost:5000/app:v1", ""},
		{"s3://bucket/img.tar:app:v1", "s3://bucket/img.tar:app:v1", ""},
	} {
		p, err := props.Parse(raw(tc.src, "docker://r.example.com/app:v1"))
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if p.SrcImage != tc.want || p.SrcTag != tc.tag {
			t.Errorf("%s: SrcImage %q, SrcTag %q; want %q, %q", tc.src, p.SrcImage, p.SrcTag, tc.want, tc.tag)
		}
		if !strings.HasPrefix(p.SrcImage, "docker://") {
			continue
		}
		// What the copier parses is a plain digest (or tag) reference.
		ref, err := copier.ParseImageName(p.SrcImage, nil)
		if err != nil {
			t.Errorf("%s: the copier refuses %q: %v", tc.src, p.SrcImage, err)
			continue
		}
		if tc.tag != "" && !strings.HasSuffix(ref.DockerReference().String(), "@"+digest) {
			t.Errorf("%s: copier reference %s is not pinned by the digest", tc.src, ref.DockerReference())
		}
	}
}

// A destination is written; a tag and a digest together cannot both be honoured.
// A destination by digest alone stays allowed (the copier checks the copy against it).
func TestDestinationTagAndDigest(t *testing.T) {
	_, err := props.Parse(raw("docker://nginx:1", "docker://r.example.com/app:v1@"+digest))
	if !errors.Is(err, errs.ErrInvalidProperty) || !strings.Contains(err.Error(), "DestImage") ||
		!strings.Contains(err.Error(), "give a tag or a digest, not both") {
		t.Errorf("err = %v", err)
	}
	for _, dest := range []string{"docker://r.example.com/app@" + digest, "docker://r.example.com/app:v1", "docker://r.example.com/app"} {
		if _, err := props.Parse(raw("docker://nginx:1", dest)); err != nil {
			t.Errorf("%s: %v", dest, err)
		}
	}
}
