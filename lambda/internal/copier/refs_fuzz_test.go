package copier

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/props"
	"github.com/cdk-ecr-deployment/handler/internal/s3archive"
)

// noS3 is an S3 client factory that must not be called: parsing a name never talks to S3.
var noS3 s3archive.ClientFor = func(context.Context, string) (s3archive.API, error) {
	panic("ParseImageName called S3")
}

// FuzzParseImageName checks ParseImageName on arbitrary image names: a refusal wraps
// errs.ErrInvalidProperty; a docker:// name is a registry reference whose display form
// parses back to itself; and whatever props.Parse accepts as SrcImage or DestImage,
// ParseImageName accepts too (a stack that passes validation must not fail at the copy).
func FuzzParseImageName(f *testing.F) {
	d := "sha256:" + strings.Repeat("ab", 32)
	for _, s := range []string{
		"docker://nginx", "docker://nginx:1.25", "docker://nginx:1.25@" + d, "docker://localhost:5000/a/b:c",
		"docker://Registry.Example.COM:5000/team/app", "docker://ghcr.io/o/r@" + d, "docker://[::1]:5000/app:v1",
		"docker://UPPER/case", "docker:nginx", "docker:///nginx", "docker://", "s3://bucket/key.tar:app:v1",
		"s3://bucket", "s3:bucket/key", "docker-archive:/tmp/a.tar:app:v1", "docker-archive:", "oci-archive:/tmp/a.tar:tag",
		"oci-archive:relative/p", "ftp://x", "nginx", ":", "docker://a/b:" + strings.Repeat("t", 129),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		ref, err := ParseImageName(name, noS3)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidProperty) {
				t.Fatalf("ParseImageName(%q): error without ErrInvalidProperty: %v", name, err)
			}
			if ref != nil {
				t.Fatalf("ParseImageName(%q) returned a reference with %v", name, err)
			}
			if len(err.Error()) > 10*len(name)+2048 {
				t.Fatalf("error of %d bytes for a name of %d", len(err.Error()), len(name))
			}
		} else if strings.HasPrefix(name, "docker:") {
			if !isRegistry(ref) || ref.DockerReference() == nil {
				t.Fatalf("ParseImageName(%q) is not a registry reference", name)
			}
			shown := display(ref)
			again, err := ParseImageName(shown, noS3)
			if err != nil || display(again) != shown {
				t.Fatalf("display(%q) = %q does not parse back: %v", name, shown, err)
			}
			if _, err := dockerNamed(ref); err != nil {
				t.Fatalf("dockerNamed(%q): %v", name, err)
			}
		}

		// What validation accepts, the copier accepts, for registry and S3 sources. Local
		// archives (docker-archive:, oci-archive:, hardly usable in a Lambda) are only
		// checked for a path by props: a bad ref after the path (docker-archive::) or a
		// missing directory (oci-archive resolves the path with lstat) fails in
		// ParseImageName instead, with ErrInvalidProperty all the same (checked above).
		if p, perr := props.Parse(map[string]any{"SrcImage": name, "DestImage": "docker://r.example.com/app:v1"}); perr == nil &&
			(strings.HasPrefix(p.SrcImage, "docker://") || strings.HasPrefix(p.SrcImage, "s3://")) {
			if _, err := ParseImageName(p.SrcImage, noS3); err != nil {
				t.Fatalf("props accepts SrcImage %q (as %q), ParseImageName refuses it: %v", name, p.SrcImage, err)
			}
		}
		if p, perr := props.Parse(map[string]any{"SrcImage": "docker://nginx", "DestImage": name}); perr == nil {
			ref, err := ParseImageName(p.DestImage, noS3)
			if err != nil {
				t.Fatalf("props accepts DestImage %q, ParseImageName refuses it: %v", name, err)
			}
			if !isRegistry(ref) {
				t.Fatalf("DestImage %q is not a registry", name)
			}
		}
	})
}
