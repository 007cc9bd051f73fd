package copier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
)

// ECRDeleter is the part of the ECR client used to remove tags.
type ECRDeleter interface {
	BatchDeleteImage(ctx context.Context, in *ecr.BatchDeleteImageInput, opts ...func(*ecr.Options)) (*ecr.BatchDeleteImageOutput, error)
}

// DeleteJob removes what a Job created.
type DeleteJob struct {
	Dest     string
	DestAuth *auth.Credentials
	ArchTags map[string]string
	DestTags []string
	// ECR returns a client for an ECR region; required for ECR destinations.
	ECR func(ctx context.Context, region string) (ECRDeleter, error)
}

// Delete removes the destination tag, DestTags and ArchImageTags. Tags that
// are already gone count as deleted.
//
// ECR: tags are removed with ecr:BatchDeleteImage by tag, which only
// untags when other tags still point at the image; ECR's registry API does
// not implement manifest DELETE.
// Other registries: the manifest each tag points to is deleted by digest
// (the distribution API has no tag deletion), which removes every tag on it.
func (c *Copier) Delete(ctx context.Context, job DeleteJob) error {
	destRef, err := ParseImageName(job.Dest, nil)
	if err != nil {
		return err
	}
	named, err := dockerNamed(destRef)
	if err != nil {
		return err
	}
	var refs []string // tags or digests, in the repository of named
	if t, ok := named.(reference.Tagged); ok {
		refs = append(refs, t.Tag())
	} else if d, ok := named.(reference.Digested); ok {
		refs = append(refs, d.Digest().String())
	} else {
		refs = append(refs, "latest")
	}
	refs = append(refs, job.DestTags...)
	archs := make([]string, 0, len(job.ArchTags))
	for a := range job.ArchTags {
		archs = append(archs, a)
	}
	slices.Sort(archs)
	for _, a := range archs {
		refs = append(refs, job.ArchTags[a])
	}

	if account, region, ok := auth.ECRHost(reference.Domain(named)); ok {
		return deleteECR(ctx, job, account, region, reference.Path(named), refs)
	}
	sys := c.systemContext(job.DestAuth)
	for _, r := range refs {
		var ref types.ImageReference
		if d, perr := digestOf(r); perr == nil {
			ref, err = withDigest(named, d)
		} else {
			ref, err = withTag(named, r)
		}
		if err != nil {
			return err
		}
		what := "docker://" + reference.TrimNamed(named).String() + ":" + r
		cur, err := readManifest(ctx, ref, sys, nil)
		if err != nil {
			return describe(err, "deleting", what, "DestCreds")
		}
		if !cur.found {
			slog.Info("already gone", "dest", what)
			continue
		}
		// Deleting by digest: the distribution API has no tag deletion.
		byDigest, err := withDigest(named, cur.digest)
		if err != nil {
			return err
		}
		if err := byDigest.DeleteImage(ctx, sys); err != nil && !isNotFound(err) {
			return describe(err, "deleting", what, "DestCreds")
		}
		slog.Info("deleted", "dest", what, "digest", cur.digest.String())
	}
	return nil
}

func deleteECR(ctx context.Context, job DeleteJob, account, region, repo string, refs []string) error {
	if job.ECR == nil {
		return errors.New("no ECR client configured")
	}
	client, err := job.ECR(ctx, region)
	if err != nil {
		return err
	}
	var ids []ecrtypes.ImageIdentifier
	for _, r := range refs {
		if d, err := digestOf(r); err == nil {
			ids = append(ids, ecrtypes.ImageIdentifier{ImageDigest: aws.String(d.String())})
		} else {
			ids = append(ids, ecrtypes.ImageIdentifier{ImageTag: aws.String(r)})
		}
	}
	out, err := client.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{
		RegistryId:     aws.String(account),
		RepositoryName: aws.String(repo),
		ImageIds:       ids,
	})
	if err != nil {
		var rnf *ecrtypes.RepositoryNotFoundException
		if errors.As(err, &rnf) {
			slog.Info("repository already gone", "repository", repo)
			return nil
		}
		return fmt.Errorf("ecr:BatchDeleteImage on %s in %s: %w", repo, region, err)
	}
	for _, f := range out.Failures {
		if f.FailureCode == ecrtypes.ImageFailureCodeImageNotFound || f.FailureCode == ecrtypes.ImageFailureCodeImageTagDoesNotMatchDigest {
			continue
		}
		return fmt.Errorf("ecr:BatchDeleteImage on %s: %s: %s", repo, f.FailureCode, aws.ToString(f.FailureReason))
	}
	slog.Info("deleted from ECR", "repository", repo, "refs", refs)
	return nil
}
