package copier

import (
	"context"
	"fmt"
	"log/slog"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// Owned is what one resource wrote into its destination repository and may remove again:
// tags that point at Digest (arch tags: at Digest's child for that architecture). A tag that
// points anywhere else has been re-pointed since, by a newer deployment or by hand, and is
// no longer this resource's.
type Owned struct {
	// Repo is the destination repository; a tag or digest on it is ignored.
	Repo reference.Named
	// Digest is the manifest (or index) the resource copied.
	Digest digest.Digest
	// Tags are the destination tag and DestTags.
	Tags []string
	// ArchTags are the ArchImageTags entries: a platform of the index and its tag.
	ArchTags []props.ArchTag
	// Manifest claims the manifest itself: the destination was given by digest, so no tag
	// names what was written.
	Manifest bool
	// KeepManifest says the manifest was in the repository before the tags were written (a
	// failed copy's undo): only tags go, never the manifest, and a tag whose removal would
	// take the manifest with it stays (keep.go).
	KeepManifest bool
}

func (o Owned) String() string {
	return fmt.Sprintf("%s@%s (tags %v, arch tags %v)", reference.TrimNamed(o.Repo).String(), o.Digest, o.Tags, o.ArchTags)
}

// DeleteJob removes what a resource owns.
type DeleteJob struct {
	Owned Owned
	// DestAuth gives the credentials for a registry that is not ECR. It is called only when
	// the registry API is used, so a stack delete never depends on a secret that ECR does
	// not need.
	DestAuth func(ctx context.Context) (*auth.Credentials, error)
	// ECR returns an ECR API client for a region; required for ECR destinations.
	ECR func(ctx context.Context, region string) (ECRAPI, error)
	// ECRPublic returns an ECR Public API client; required for public.ecr.aws destinations.
	ECRPublic func(ctx context.Context) (ECRPublicAPI, error)
}

// Delete removes the tags job.Owned still owns. Tags that are gone or point elsewhere are
// left alone and count as done.
//
// ECR and ECR Public: tags are removed through the service API (BatchDeleteImage by tag and
// the digest it was checked at, which untags while the tag still points there, and deletes
// the image only with its last tag); their registry APIs do not
// implement manifest DELETE. Other registries: the distribution API deletes manifests, not
// tags, and that removes every tag on the manifest, so a manifest is deleted only when no
// tag outside the owned ones points at it (see delete_registry.go).
func (c *Copier) Delete(ctx context.Context, job DeleteJob) error {
	o := job.Owned
	host := reference.Domain(o.Repo)
	slog.Info("deleting what this resource owns", "owned", o.String())
	if account, region, ok := auth.ECRHost(host); ok {
		if job.ECR == nil {
			return fmt.Errorf("deleting from %s: no ECR client configured", host)
		}
		api, err := job.ECR(ctx, region)
		if err != nil {
			return err
		}
		return deleteECR(ctx, privateECR{api: api, account: account}, o)
	}
	if auth.IsECRPublic(host) {
		if job.ECRPublic == nil {
			return fmt.Errorf("deleting from %s: no ECR Public client configured", host)
		}
		api, err := job.ECRPublic(ctx)
		if err != nil {
			return err
		}
		return deleteECR(ctx, publicECR{api: api}, o)
	}
	if o.KeepManifest && !o.Manifest {
		slog.Info("keeping tags: the distribution API removes a tag only by deleting its manifest, which was in the repository before",
			"owned", o.String())
		return nil
	}
	var creds *auth.Credentials
	if job.DestAuth != nil {
		var err error
		if creds, err = job.DestAuth(ctx); err != nil {
			return err
		}
	}
	sys := c.systemContext(creds)
	ref, err := withTag(o.Repo, "latest")
	if err != nil {
		return err
	}
	// Deleting is idempotent (what is gone or re-pointed is skipped), so a transient failure
	// or a stall is retried as a copy is.
	return withRetry(ctx, props.DefaultRetry, "deleting from "+host, stallGuard(hostsOf(ref), func(ctx context.Context) error {
		return c.deleteRegistry(ctx, sys, o)
	}))
}
