// Package deploy carries out one custom-resource request: it resolves the
// credentials for both sides, then copies (Create/Update) or cleans up
// (Delete) the destination.
package deploy

import (
	"context"
	"log/slog"
	"strings"

	"go.podman.io/image/v5/docker/reference"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
	"github.com/cdk-ecr-deployment/handler/internal/copier"
	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// Data keys returned to CloudFormation (Fn::GetAtt).
const (
	DataImageDigest = "ImageDigest"
	DataImageURI    = "ImageUri"
)

// Deployer wires auth to the copier.
type Deployer struct {
	Auth   *auth.Resolver
	Copier *copier.Copier
	// ECR gives ECR clients for Delete with RemovalPolicy destroy.
	ECR func(ctx context.Context, region string) (copier.ECRDeleter, error)
}

// Run implements cfn.Work.
func (d *Deployer) Run(ctx context.Context, requestType string, p *props.Properties) (map[string]string, error) {
	if requestType == "Delete" {
		if p.RemovalPolicy != props.Destroy {
			slog.Info("RemovalPolicy is retain; leaving the destination as it is", "dest", p.DestImage)
			return nil, nil
		}
		destAuth, err := d.Auth.Resolve(ctx, auth.Request{Creds: p.DestCreds, Property: "DestCreds", Host: hostOf(p.DestImage), Role: auth.Destination})
		if err != nil {
			return nil, err
		}
		return nil, d.Copier.Delete(ctx, copier.DeleteJob{
			Dest: p.DestImage, DestAuth: destAuth, ArchTags: p.ArchImageTags, DestTags: p.DestTags, ECR: d.ECR,
		})
	}

	srcHost := hostOf(p.SrcImage)
	srcAuth, err := d.Auth.Resolve(ctx, auth.Request{Creds: p.SrcCreds, Property: "SrcCreds", Host: srcHost, Role: auth.Source})
	if err != nil {
		return nil, err
	}
	destAuth, err := d.Auth.Resolve(ctx, auth.Request{Creds: p.DestCreds, Property: "DestCreds", Host: hostOf(p.DestImage), Role: auth.Destination})
	if err != nil {
		return nil, err
	}
	job := copier.Job{
		Src: p.SrcImage, Dest: p.DestImage,
		SrcAuth: srcAuth, DestAuth: destAuth,
		Platforms: p.ImageArch, AllImages: p.CopyImageIndex,
		ArchTags: p.ArchImageTags, DestTags: p.DestTags, Retry: p.Retry,
	}
	if srcAuth == nil && strings.EqualFold(srcHost, auth.PublicECRHost) {
		job.SrcAuthFallback = func() (*auth.Credentials, error) { return d.Auth.ECRPublicToken(ctx) }
	}
	res, err := d.Copier.Copy(ctx, job)
	if err != nil {
		return nil, err
	}
	return map[string]string{DataImageDigest: res.Digest, DataImageURI: res.URI}, nil
}

// hostOf returns the registry host of a docker:// name, "" otherwise.
func hostOf(image string) string {
	rest, ok := strings.CutPrefix(image, "docker://")
	if !ok {
		return ""
	}
	named, err := reference.ParseNormalizedNamed(rest)
	if err != nil {
		return ""
	}
	return reference.Domain(named)
}
