package copier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"golang.org/x/sync/errgroup"

	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// ECRAPI is the part of the ECR API used to remove tags.
type ECRAPI interface {
	BatchGetImage(ctx context.Context, in *ecr.BatchGetImageInput, opts ...func(*ecr.Options)) (*ecr.BatchGetImageOutput, error)
	DescribeImages(ctx context.Context, in *ecr.DescribeImagesInput, opts ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
	BatchDeleteImage(ctx context.Context, in *ecr.BatchDeleteImageInput, opts ...func(*ecr.Options)) (*ecr.BatchDeleteImageOutput, error)
}

// ECRPublicAPI is the part of the ECR Public API used to remove tags.
type ECRPublicAPI interface {
	DescribeImageTags(ctx context.Context, in *ecrpublic.DescribeImageTagsInput, opts ...func(*ecrpublic.Options)) (*ecrpublic.DescribeImageTagsOutput, error)
	BatchDeleteImage(ctx context.Context, in *ecrpublic.BatchDeleteImageInput, opts ...func(*ecrpublic.Options)) (*ecrpublic.BatchDeleteImageOutput, error)
}

// ecrBatchLimit is the most image ids BatchGetImage and BatchDeleteImage take in one call
// (ECR and ECR Public both refuse more).
const ecrBatchLimit = 100

// imageService is ECR or ECR Public, seen as what deleteECR needs.
type imageService interface {
	// tagDigests returns what each tag points at; missing tags are absent. found is false
	// when the repository does not exist.
	tagDigests(ctx context.Context, repo string, tags []string) (got map[string]digest.Digest, found bool, err error)
	// manifest returns the bytes of d; ok is false when the service cannot say.
	manifest(ctx context.Context, repo string, d digest.Digest) (b []byte, ok bool, err error)
	// tagsOn returns every tag on d; ok is false when the service cannot say.
	tagsOn(ctx context.Context, repo string, d digest.Digest) (tags []string, ok bool, err error)
	// untag removes each tag while it still points at its digest and returns the tags
	// removed; a tag re-pointed or removed since it was read is left alone (logged).
	untag(ctx context.Context, repo string, tags []pinnedTag) (removed []string, err error)
	deleteDigest(ctx context.Context, repo string, d digest.Digest) error
	name() string
}

// pinnedTag is a tag to remove only while it still points at digest.
type pinnedTag struct {
	tag    string
	digest digest.Digest
}

// deleteECR untags what o still owns.
func deleteECR(ctx context.Context, svc imageService, o Owned) error {
	repo := ecrRepositoryName(svc, o.Repo)
	claimed := slices.Clone(o.Tags)
	for _, at := range o.ArchTags {
		claimed = append(claimed, at.Tag)
	}
	current, found, err := svc.tagDigests(ctx, repo, claimed)
	if err != nil {
		return fmt.Errorf("%s: reading the tags of %s: %w", svc.name(), repo, err)
	}
	if !found {
		slog.Info("repository already gone", "repository", repo)
		return nil
	}
	var untag []pinnedTag
	for _, t := range o.Tags {
		if d, ok := current[t]; ok {
			untag = appendOwned(untag, t, d, o.Digest)
		}
	}
	if len(o.ArchTags) > 0 {
		index, err := ecrIndex(ctx, svc, repo, o.Digest)
		if err != nil {
			return err
		}
		for _, at := range o.ArchTags {
			d, ok := current[at.Tag]
			if !ok {
				continue
			}
			want, known := childIn(index, at.Platform)
			if !known {
				slog.Info("keeping arch tag: its index is gone or unreadable, so it cannot be told apart from another image",
					"tag", at.Tag, "arch", at.Arch, "index", o.Digest.String())
				continue
			}
			untag = appendOwned(untag, at.Tag, d, want)
		}
		if untag, err = keepSharedChildren(ctx, svc, repo, o, untag); err != nil {
			return err
		}
	}
	if o.KeepManifest {
		if untag, err = keepLastTag(ctx, svc, repo, o.Digest, untag); err != nil {
			return err
		}
	}
	// The tags were read before: each is sent with the digest it was read at, so that a tag
	// re-pointed in between (a newer deployment) is refused by the service, not removed.
	var removed []string
	for chunk := range slices.Chunk(untag, ecrBatchLimit) {
		done, err := svc.untag(ctx, repo, chunk)
		if err != nil {
			return fmt.Errorf("%s: removing tags %v from %s: %w", svc.name(), tagsOf(chunk), repo, err)
		}
		removed = append(removed, done...)
	}
	if len(removed) > 0 {
		slog.Info("untagged", "registry", svc.name(), "repository", repo, "tags", removed)
	}
	if o.Manifest {
		tags, ok, err := svc.tagsOn(ctx, repo, o.Digest)
		switch {
		case err != nil:
			return fmt.Errorf("%s: reading %s@%s: %w", svc.name(), repo, o.Digest, err)
		case !ok:
			slog.Info("keeping the manifest: its tags cannot be listed", "repository", repo, "digest", o.Digest.String())
		case len(tags) > 0:
			slog.Info("keeping the manifest: other tags point at it", "repository", repo, "digest", o.Digest.String(), "tags", tags)
		default:
			if err := svc.deleteDigest(ctx, repo, o.Digest); err != nil {
				return fmt.Errorf("%s: deleting %s@%s: %w", svc.name(), repo, o.Digest, err)
			}
			slog.Info("deleted", "repository", repo, "digest", o.Digest.String())
		}
	}
	return nil
}

// appendOwned adds tag t (pointing at have) to list when it still points at want.
func appendOwned(list []pinnedTag, t string, have, want digest.Digest) []pinnedTag {
	if have != want {
		slog.Info("keeping tag: it no longer points at what this resource wrote", "tag", t, "points_at", have.String(), "wrote", want.String())
		return list
	}
	if slices.ContainsFunc(list, func(p pinnedTag) bool { return p.tag == t }) {
		return list
	}
	return append(list, pinnedTag{tag: t, digest: want})
}

func tagsOf(list []pinnedTag) []string {
	out := make([]string, len(list))
	for i, p := range list {
		out[i] = p.tag
	}
	return out
}

// leftAlone reports whether a BatchDeleteImage failure for a tag sent with its digest means
// the tag is not this resource's any more: ECR and ECR Public answer ImageTagDoesNotMatchDigest
// when the tag points at another digest, ImageNotFound when it is gone. Both are logged.
func leftAlone(svc, tag, d, code string) bool {
	switch code {
	case "ImageTagDoesNotMatchDigest", "ImageNotFound":
		slog.Info("keeping tag: it was re-pointed or removed after it was read", "registry", svc, "tag", tag, "wrote", d, "failure", code)
		return true
	}
	return false
}

// ecrIndex reads index d; nil when d is gone, is not an index, or the service cannot return
// manifests.
func ecrIndex(ctx context.Context, svc imageService, repo string, d digest.Digest) (manifest.List, error) {
	b, ok, err := svc.manifest(ctx, repo, d)
	if err != nil {
		return nil, fmt.Errorf("%s: reading %s@%s: %w", svc.name(), repo, d, err)
	}
	if !ok {
		return nil, nil
	}
	return indexOf(b)
}

// indexOf parses b as an index; nil for a single image.
func indexOf(b []byte) (manifest.List, error) {
	mt := manifest.GuessMIMEType(b)
	if !manifest.MIMETypeIsMultiImage(mt) {
		return nil, nil
	}
	list, err := manifest.ListFromBlob(b, mt)
	if err != nil {
		return nil, fmt.Errorf("parsing an index: %w", err)
	}
	return list, nil
}

// childIn is the child of list for pl, matched as a copy matches it (matchPlatform); false
// when list is nil.
func childIn(list manifest.List, pl props.Platform) (digest.Digest, bool) {
	if list == nil {
		return "", false
	}
	return childFor(list, pl)
}

// ecrRepositoryName is the repository name the service's API takes.
func ecrRepositoryName(svc imageService, named reference.Named) string {
	path := reference.Path(named)
	if _, public := svc.(publicECR); public {
		// ECR Public: public.ecr.aws/<registry alias>/<repository>; the API names the
		// repository without the alias (the registry is the caller's).
		if _, rest, ok := strings.Cut(path, "/"); ok {
			return rest
		}
	}
	return path
}

// privateECR is ECR in one account and region.
type privateECR struct {
	api     ECRAPI
	account string
}

func (privateECR) name() string { return "ECR" }

// ecrManifestTypes are asked for explicitly: without acceptedMediaTypes ECR may answer an
// index request with a failure instead of the manifest.
var ecrManifestTypes = []string{manifest.DockerV2Schema2MediaType, manifest.DockerV2ListMediaType,
	imgspecv1.MediaTypeImageManifest, imgspecv1.MediaTypeImageIndex}

func (e privateECR) get(ctx context.Context, repo string, ids []ecrtypes.ImageIdentifier) (*ecr.BatchGetImageOutput, bool, error) {
	out, err := e.api.BatchGetImage(ctx, &ecr.BatchGetImageInput{
		RegistryId: aws.String(e.account), RepositoryName: aws.String(repo), ImageIds: ids, AcceptedMediaTypes: ecrManifestTypes,
	})
	if err != nil {
		if _, ok := errors.AsType[*ecrtypes.RepositoryNotFoundException](err); ok {
			return nil, false, nil
		}
		return nil, false, err
	}
	return out, true, nil
}

// tagDigests asks for one tag per BatchGetImage call: the tag that an answer carries is not
// always the one asked for when an image has several (moto answers with another of the
// image's tags), so a batched answer cannot be matched back to its tags.
func (e privateECR) tagDigests(ctx context.Context, repo string, tags []string) (map[string]digest.Digest, bool, error) {
	var (
		mu      sync.Mutex
		got     = map[string]digest.Digest{}
		missing bool
	)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, t := range tags {
		g.Go(func() error {
			out, found, err := e.get(ctx, repo, []ecrtypes.ImageIdentifier{{ImageTag: aws.String(t)}})
			if err != nil {
				return fmt.Errorf("tag %s: %w", t, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if !found {
				missing = true
				return nil
			}
			for _, img := range out.Images {
				if img.ImageId == nil {
					continue
				}
				d, err := digest.Parse(aws.ToString(img.ImageId.ImageDigest))
				if err != nil {
					return fmt.Errorf("tag %s: %w", t, err)
				}
				got[t] = d
			}
			return unexpectedFailure(out.Failures)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, true, err
	}
	return got, !missing, nil
}

func (e privateECR) manifest(ctx context.Context, repo string, d digest.Digest) ([]byte, bool, error) {
	out, found, err := e.get(ctx, repo, []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(d.String())}})
	if err != nil || !found {
		return nil, false, err
	}
	for _, img := range out.Images {
		if m := aws.ToString(img.ImageManifest); m != "" {
			if ok, _ := manifest.MatchesDigest([]byte(m), d); ok {
				return []byte(m), true, nil
			}
		}
	}
	return nil, false, unexpectedFailure(out.Failures)
}

func (e privateECR) tagsOn(ctx context.Context, repo string, d digest.Digest) ([]string, bool, error) {
	out, err := e.api.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RegistryId: aws.String(e.account), RepositoryName: aws.String(repo),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(d.String())}},
	})
	if err != nil {
		if _, ok := errors.AsType[*ecrtypes.ImageNotFoundException](err); ok {
			return nil, true, nil
		}
		if _, ok := errors.AsType[*ecrtypes.RepositoryNotFoundException](err); ok {
			return nil, true, nil
		}
		return nil, false, err
	}
	var tags []string
	for _, img := range out.ImageDetails {
		tags = append(tags, img.ImageTags...)
	}
	return tags, true, nil
}

func (e privateECR) untag(ctx context.Context, repo string, tags []pinnedTag) ([]string, error) {
	ids := make([]ecrtypes.ImageIdentifier, len(tags))
	for i, t := range tags {
		ids[i] = ecrtypes.ImageIdentifier{ImageTag: aws.String(t.tag), ImageDigest: aws.String(t.digest.String())}
	}
	out, err := e.api.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{
		RegistryId: aws.String(e.account), RepositoryName: aws.String(repo), ImageIds: ids,
	})
	if err != nil {
		if _, ok := errors.AsType[*ecrtypes.RepositoryNotFoundException](err); ok {
			return nil, nil
		}
		return nil, err
	}
	for _, f := range out.Failures {
		var tag, d string
		if f.ImageId != nil {
			tag, d = aws.ToString(f.ImageId.ImageTag), aws.ToString(f.ImageId.ImageDigest)
		}
		if !leftAlone(e.name(), tag, d, string(f.FailureCode)) {
			return nil, fmt.Errorf("tag %s: %s: %s", tag, f.FailureCode, aws.ToString(f.FailureReason))
		}
	}
	var removed []string
	for _, id := range out.ImageIds {
		if t := aws.ToString(id.ImageTag); t != "" {
			removed = append(removed, t)
		}
	}
	return removed, nil
}

func (e privateECR) deleteDigest(ctx context.Context, repo string, d digest.Digest) error {
	out, err := e.api.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{
		RegistryId: aws.String(e.account), RepositoryName: aws.String(repo),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(d.String())}},
	})
	if err != nil {
		if _, ok := errors.AsType[*ecrtypes.RepositoryNotFoundException](err); ok {
			return nil
		}
		return err
	}
	return unexpectedFailure(out.Failures)
}

// unexpectedFailure turns ECR's per-image failures into an error, except those that mean
// the image is already gone.
func unexpectedFailure(fs []ecrtypes.ImageFailure) error {
	for _, f := range fs {
		switch f.FailureCode {
		case ecrtypes.ImageFailureCodeImageNotFound, ecrtypes.ImageFailureCodeImageTagDoesNotMatchDigest:
			continue
		}
		return fmt.Errorf("%s: %s", f.FailureCode, aws.ToString(f.FailureReason))
	}
	return nil
}

// publicECR is the caller's ECR Public registry. Its API has no BatchGetImage, so arch tags,
// which can only be verified through their index, are kept.
