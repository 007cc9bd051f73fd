// Package deploy carries out one custom-resource request: it resolves the credentials for
// both sides, then copies (Create/Update) or removes what the resource owns (Delete), and
// decides the PhysicalResourceId that records what it wrote (see id.go).
package deploy

import (
	"context"
	"log/slog"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
	"github.com/cdk-ecr-deployment/handler/internal/copier"
	"github.com/cdk-ecr-deployment/handler/internal/customresource"
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

// Run implements customresource.Work: it validates the properties, then copies or removes.
func (d *Deployer) Run(ctx context.Context, req customresource.Request) (customresource.Result, error) {
	p, err := props.Parse(req.Properties)
	if err != nil {
		if req.Type == cfn.RequestDelete {
			// Nothing can have been created from properties that never validated; failing
			// here would block the stack's deletion.
			customresource.Log(ctx).Warn("properties invalid on Delete; nothing to clean up", "error", err.Error())
			return customresource.Result{}, nil
		}
		return customresource.Result{}, err
	}
	var old *props.Properties
	if req.OldProperties != nil {
		// Old properties that no longer validate (written by another handler version) only
		// mean that nothing is known about what the old resource wrote.
		if old, err = props.Parse(req.OldProperties); err != nil {
			customresource.Log(ctx).Warn("old properties invalid; treating the old resource as owning nothing", "error", err.Error())
			old = nil
		}
	}
	customresource.Log(ctx).Info("request", "src", p.SrcImage, "dest", p.DestImage, "arch", archs(p), "copy_image_index", p.CopyImageIndex,
		"dest_tags", p.DestTags, "removal_policy", string(p.RemovalPolicy))

	dest := p.Dest
	if req.Type == cfn.RequestDelete {
		return customresource.Result{PhysicalID: req.PhysicalID}, d.remove(ctx, req.PhysicalID, p, nil)
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
		return customresource.Result{PhysicalID: id}, err
	}
	copied := digest.Digest(res.Digest)
	id := formatID(dest, copied, p)
	if req.Type == cfn.RequestUpdate {
		if owned, ok := ownedDigest(req.PhysicalID); ok && owned == copied {
			// The same digest under the old id: keeping the id means CloudFormation sends no
			// clean-up Delete, which would have removed tags the new properties name too
			// (a shared DestTag, or the same tag spelled another way). What the new
			// properties no longer name is released here instead, if the old properties
			// are the ones that wrote the id: after a failed Update, the rollback's old
			// properties are the failed ones, and a tag they name was never written by this
			// resource (another client's, say).
			id = req.PhysicalID
			switch {
			case old == nil:
			case !writtenBy(req.PhysicalID, old):
				slog.Info("the old properties did not write this id (a rollback after a failed update, or an id from before fingerprints), so nothing they name is released",
					"physical_id", req.PhysicalID)
			default:
				if err := d.remove(ctx, req.PhysicalID, old, p); err != nil {
					// The clean-up of a replaced resource never fails a stack update in
					// CloudFormation either; the tags stay, which loses nothing.
					slog.Warn("removing the tags the old properties named failed; they stay", "error", err.Error())
				}
			}
		}
	}
	return customresource.Result{PhysicalID: id, Data: map[string]string{DataImageDigest: res.Digest, DataImageURI: res.URI}}, nil
}

func (d *Deployer) copy(ctx context.Context, p *props.Properties) (copier.Result, error) {
	srcReq := auth.Request{Creds: p.SrcCreds, Property: "SrcCreds", Host: hostOf(p.Src), Role: auth.Source,
		RoleArn: p.SrcRoleArn, RoleProperty: "SrcRoleArn"}
	srcAuth, err := d.Auth.Resolve(ctx, srcReq)
	if err != nil {
		return copier.Result{}, err
	}
	destAuth, err := d.destAuth(ctx, p)
	if err != nil {
		return copier.Result{}, err
	}
	src, err := d.source(p)
	if err != nil {
		return copier.Result{}, err
	}
	dest, err := copier.RegistryReference(p.Dest)
	if err != nil {
		return copier.Result{}, err
	}
	job := copier.Job{
		Src: src, Dest: dest,
		SrcCreds:  copier.Credentials{Current: srcAuth, Relogin: d.Auth.Relogin(srcReq)},
		DestCreds: copier.Credentials{Current: destAuth, Relogin: d.Auth.Relogin(destRequest(p))},
		Platforms: p.ImageArch, CopyImageIndex: p.CopyImageIndex,
		ArchTags: p.ArchImageTags, DestTags: p.DestTags, Retry: p.Retry,
		CopyReferrers: p.CopyReferrers, DestManifestFormat: p.DestManifestFormat,
	}
	job.Remove = func(ctx context.Context, o copier.Owned) error {
		return d.Copier.Delete(ctx, copier.DeleteJob{
			Owned:     o,
			DestAuth:  func(context.Context) (*auth.Credentials, error) { return destAuth, nil },
			ECR:       d.ecrFor(p),
			ECRPublic: d.ECRPublic,
		})
	}
	return d.Copier.Copy(ctx, job)
}

// source is SrcImage for the copier: the registry name props parsed, or an archive.
func (d *Deployer) source(p *props.Properties) (types.ImageReference, error) {
	if p.Src != nil {
		return copier.RegistryReference(p.Src)
	}
	return d.Copier.ParseSource(p.SrcImage)
}

func destRequest(p *props.Properties) auth.Request {
	return auth.Request{Creds: p.DestCreds, Property: "DestCreds", Host: hostOf(p.Dest), Role: auth.Destination,
		RoleArn: p.DestRoleArn, RoleProperty: "DestRoleArn"}
}

func (d *Deployer) destAuth(ctx context.Context, p *props.Properties) (*auth.Credentials, error) {
	return d.Auth.Resolve(ctx, destRequest(p))
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
		ECR:       d.ecrFor(p),
		ECRPublic: d.ECRPublic,
	})
}

// ownedUnder is what properties p name in the destination, owned while it points at dg.
func ownedUnder(p *props.Properties, dg digest.Digest) (copier.Owned, error) {
	dest := p.Dest
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
	for _, at := range k.ArchTags {
		named = append(named, at.Tag)
	}
	o.Tags = slices.DeleteFunc(slices.Clone(o.Tags), func(t string) bool { return slices.Contains(named, t) })
	o.ArchTags = slices.DeleteFunc(slices.Clone(o.ArchTags), func(at props.ArchTag) bool { return slices.Contains(named, at.Tag) })
	// The manifest itself stays whenever the resource that lives on is in the same repository.
	o.Manifest = false
	return o, nil
}

func sameRepository(a, b reference.Named) bool {
	return strings.EqualFold(reference.Domain(a), reference.Domain(b)) && reference.Path(a) == reference.Path(b)
}

// nameOnly is the id of a resource that owns nothing: the destination without any digest.
func nameOnly(dest reference.Named) string {
	name, _, _ := strings.Cut(props.NormalizedName(dest), "@")
	return name
}

// hostOf returns the registry host of a registry name, "" for none (archive sources).
func hostOf(named reference.Named) string {
	if named == nil {
		return ""
	}
	return reference.Domain(named)
}

func archs(p *props.Properties) []string {
	out := make([]string, len(p.ImageArch))
	for i, a := range p.ImageArch {
		out[i] = a.String()
	}
	return out
}
