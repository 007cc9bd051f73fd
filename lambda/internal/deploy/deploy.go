// Package deploy carries out one custom-resource request: it resolves the credentials for
// both sides, then copies (Create/Update) or removes what the resource owns (Delete), and
// decides the PhysicalResourceId that records what it wrote (see id.go).
package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
	cfnh "github.com/cdk-ecr-deployment/handler/internal/cfn"
	"github.com/cdk-ecr-deployment/handler/internal/copier"
	"github.com/cdk-ecr-deployment/handler/internal/logging"
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
	// ECR gives ECR API clients, for removing tags from ECR.
	ECR func(ctx context.Context, region string) (copier.ECRAPI, error)
	// ECRPublic gives an ECR Public API client, for removing tags from public.ecr.aws.
	ECRPublic func(ctx context.Context) (copier.ECRPublicAPI, error)
}

// Run implements cfnh.Work.
func (d *Deployer) Run(ctx context.Context, req cfnh.Request) (cfnh.Result, error) {
	p := req.Props
	dest, err := destNamed(p)
	if err != nil {
		return cfnh.Result{}, err
	}
	if req.Type == cfn.RequestDelete {
		return cfnh.Result{PhysicalID: req.PhysicalID}, d.remove(ctx, req.PhysicalID, p, nil)
	}

	res, err := d.copy(ctx, p)
	if err != nil {
		// A failed Create owns nothing: its id carries no digest, so the rollback Delete that
		// follows removes nothing (an image that was there before survives). A failed Update
		// keeps the id it had, and with it what the resource owned before.
		id := req.PhysicalID
		if req.Type == cfn.RequestCreate {
			id = nameOnly(dest)
		}
		return cfnh.Result{PhysicalID: id}, err
	}
	copied := digest.Digest(res.Digest)
	id := formatID(dest, copied)
	if req.Type == cfn.RequestUpdate {
		if owned, ok := ownedDigest(req.PhysicalID); ok && owned == copied {
			// The same digest under the old id: keeping the id means CloudFormation sends no
			// clean-up Delete, which would have removed tags the new properties name too
			// (a shared DestTag, or the same tag spelled another way). What the new
			// properties no longer name is released here instead.
			id = req.PhysicalID
			if req.OldProps != nil {
				if err := d.remove(ctx, req.PhysicalID, req.OldProps, p); err != nil {
					// The clean-up of a replaced resource never fails a stack update in
					// CloudFormation either; the tags stay, which loses nothing.
					slog.Warn("removing the tags the old properties named failed; they stay", "error", err.Error())
				}
			}
		}
	}
	return cfnh.Result{PhysicalID: id, Data: map[string]string{DataImageDigest: res.Digest, DataImageURI: res.URI}}, nil
}

func (d *Deployer) copy(ctx context.Context, p *props.Properties) (copier.Result, error) {
	srcHost := hostOf(p.SrcImage)
	srcAuth, err := d.Auth.Resolve(ctx, auth.Request{Creds: p.SrcCreds, Property: "SrcCreds", Host: srcHost, Role: auth.Source})
	if err != nil {
		return copier.Result{}, err
	}
	destAuth, err := d.destAuth(ctx, p)
	if err != nil {
		return copier.Result{}, err
	}
	job := copier.Job{
		Src: p.SrcImage, Dest: p.DestImage,
		SrcAuth: srcAuth, DestAuth: destAuth,
		Platforms: p.ImageArch, AllImages: p.CopyImageIndex,
		ArchTags: p.ArchImageTags, DestTags: p.DestTags, Retry: p.Retry,
	}
	job.Remove = func(ctx context.Context, o copier.Owned) error {
		return d.Copier.Delete(ctx, copier.DeleteJob{
			Owned:     o,
			DestAuth:  func(context.Context) (*auth.Credentials, error) { return destAuth, nil },
			ECR:       d.ECR,
			ECRPublic: d.ECRPublic,
		})
	}
	if srcAuth == nil && strings.EqualFold(srcHost, auth.PublicECRHost) {
		job.SrcAuthFallback = func() (*auth.Credentials, error) { return d.Auth.ECRPublicToken(ctx) }
	}
	res, err := d.Copier.Copy(ctx, job)
	if err == nil || !errors.Is(err, copier.ErrRefusedMidCopy) || ctx.Err() != nil {
		return res, err
	}
	// Tokens expire: an ECR login lasts 12 hours, a registry's bearer token minutes (and
	// containers/image trusts one for at least 60 s, whatever the registry says). A copy that
	// outlives one is refused half-way, after both registries had accepted it. So credentials
	// are resolved again (a new GetAuthorizationToken; new clients fetch new bearer tokens) and
	// the copy runs once more; blobs already written are found there and not sent again.
	slog.Warn("credentials refused during the copy; logging in again and copying once more", "error", logging.Redact(err.Error()))
	if job.SrcAuth, err = d.Auth.Resolve(ctx, auth.Request{Creds: p.SrcCreds, Property: "SrcCreds", Host: srcHost, Role: auth.Source}); err != nil {
		return copier.Result{}, err
	}
	if destAuth, err = d.destAuth(ctx, p); err != nil {
		return copier.Result{}, err
	}
	job.DestAuth = destAuth
	return d.Copier.Copy(ctx, job)
}

func (d *Deployer) destAuth(ctx context.Context, p *props.Properties) (*auth.Credentials, error) {
	return d.Auth.Resolve(ctx, auth.Request{Creds: p.DestCreds, Property: "DestCreds", Host: hostOf(p.DestImage), Role: auth.Destination})
}

// remove deletes, with RemovalPolicy destroy in p, what the resource with id owns under p,
// except what keep (the properties of the resource that lives on, or nil) names too.
func (d *Deployer) remove(ctx context.Context, id string, p, keep *props.Properties) error {
	if p.RemovalPolicy != props.Destroy {
		if keep == nil {
			slog.Info("RemovalPolicy is retain; leaving the destination as it is", "dest", p.DestImage)
		}
		return nil
	}
	owned, ok := ownedDigest(id)
	if !ok {
		slog.Info("the id records no copied digest (a failed create, or another handler version), so this resource owns nothing to delete",
			"physical_id", id)
		return nil
	}
	o, err := ownedUnder(p, owned)
	if err != nil {
		return err
	}
	if keep != nil {
		if o, err = release(o, keep); err != nil {
			return err
		}
		if len(o.Tags) == 0 && len(o.ArchTags) == 0 && !o.Manifest {
			return nil
		}
	}
	return d.Copier.Delete(ctx, copier.DeleteJob{
		Owned:     o,
		DestAuth:  func(ctx context.Context) (*auth.Credentials, error) { return d.destAuth(ctx, p) },
		ECR:       d.ECR,
		ECRPublic: d.ECRPublic,
	})
}

// ownedUnder is what properties p name in the destination, owned while it points at dg.
func ownedUnder(p *props.Properties, dg digest.Digest) (copier.Owned, error) {
	dest, err := destNamed(p)
	if err != nil {
		return copier.Owned{}, err
	}
	o := copier.Owned{Repo: reference.TrimNamed(dest), Digest: dg, ArchTags: p.ArchImageTags}
	switch r := dest.(type) {
	case reference.Tagged:
		o.Tags = []string{r.Tag()}
	case reference.Digested:
		o.Manifest = true
	default:
		o.Tags = []string{"latest"}
	}
	for _, t := range p.DestTags {
		if !slices.Contains(o.Tags, t) {
			o.Tags = append(o.Tags, t)
		}
	}
	return o, nil
}

// release drops from o what keep names in the same repository.
func release(o copier.Owned, keep *props.Properties) (copier.Owned, error) {
	k, err := ownedUnder(keep, o.Digest)
	if err != nil {
		return o, err
	}
	if !sameRepository(o.Repo, k.Repo) {
		return o, nil
	}
	named := slices.Clone(k.Tags)
	for _, t := range k.ArchTags {
		named = append(named, t)
	}
	o.Tags = slices.DeleteFunc(slices.Clone(o.Tags), func(t string) bool { return slices.Contains(named, t) })
	arch := map[string]string{}
	for a, t := range o.ArchTags {
		if !slices.Contains(named, t) {
			arch[a] = t
		}
	}
	o.ArchTags = arch
	// The manifest itself stays whenever the resource that lives on is in the same repository.
	o.Manifest = false
	return o, nil
}

func sameRepository(a, b reference.Named) bool {
	return strings.EqualFold(reference.Domain(a), reference.Domain(b)) && reference.Path(a) == reference.Path(b)
}

// destNamed parses DestImage (always docker://, checked by props).
func destNamed(p *props.Properties) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(strings.TrimPrefix(p.DestImage, "docker://"))
	if err != nil {
		return nil, fmt.Errorf("DestImage %q: %w", p.DestImage, err)
	}
	return named, nil
}

// nameOnly is the id of a resource that owns nothing: the destination without any digest.
func nameOnly(dest reference.Named) string {
	name, _, _ := strings.Cut(props.NormalizedName(dest), "@")
	return name
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
