package copier

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// An index that keeps a child from the previous one (an unchanged amd64 image) leaves that
// child's arch tag where it was: the new deployment's tagging finds it up to date. When the
// new deployment replaced the old resource, CloudFormation's clean-up Delete of the old one
// then finds the arch tag still at the child the old index lists, though it now serves the
// new index too. So an arch tag is released only while no index under a tag this Delete
// does not release lists its child: such an index was written with that child, by the
// replacement or another deployment, and the arch tag is theirs as much as this resource's.
// Keeping it loses nothing; removing it would break theirs.

// indexLister is a service that can tell which children the tagged indexes of a repository
// list. ECR Public cannot (no BatchGetImage), and keeps arch tags anyway.
type indexLister interface {
	// taggedChildren maps each child listed by an index that has a tag outside skip to one
	// such tag; ok is false when the repository cannot be checked (too many images).
	taggedChildren(ctx context.Context, repo string, skip []string) (children map[digest.Digest]string, ok bool, err error)
}

// keepSharedChildren drops from untag the arch tags (entries not at o.Digest) whose child
// another tagged index lists.
func keepSharedChildren(ctx context.Context, svc imageService, repo string, o Owned, untag []pinnedTag) ([]pinnedTag, error) {
	if !slices.ContainsFunc(untag, func(p pinnedTag) bool { return p.digest != o.Digest }) {
		return untag, nil
	}
	lister, can := svc.(indexLister)
	var (
		children map[digest.Digest]string
		ok       bool
	)
	if can {
		var err error
		if children, ok, err = lister.taggedChildren(ctx, repo, tagsOf(untag)); err != nil {
			return nil, fmt.Errorf("%s: reading the indexes of %s: %w", svc.name(), repo, err)
		}
	}
	return slices.DeleteFunc(untag, func(p pinnedTag) bool {
		if p.digest == o.Digest {
			return false
		}
		if !ok {
			slog.Info("keeping arch tag: the repository's indexes cannot be checked for its child", "tag", p.tag, "child", p.digest.String())
			return true
		}
		if by, shared := children[p.digest]; shared {
			slog.Info("keeping arch tag: another tagged index lists its child", "tag", p.tag, "child", p.digest.String(), "index_tag", by)
			return true
		}
		return false
	}), nil
}

// taggedChildren reads every index image of the repository (DescribeImages) that has a tag
// outside skip, at most maxForeignTags of them. An index answered in a form that cannot be
// parsed makes the repository uncheckable (ok false): its children cannot be ruled out.
func (e privateECR) taggedChildren(ctx context.Context, repo string, skip []string) (map[digest.Digest]string, bool, error) {
	byDigest := map[digest.Digest]string{}
	pages := ecr.NewDescribeImagesPaginator(e.api, &ecr.DescribeImagesInput{
		RegistryId: aws.String(e.account), RepositoryName: aws.String(repo), Filter: &ecrtypes.DescribeImagesFilter{TagStatus: ecrtypes.TagStatusTagged},
	})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, false, err
		}
		for _, img := range out.ImageDetails {
			switch aws.ToString(img.ImageManifestMediaType) {
			case manifest.DockerV2ListMediaType, imgspecv1.MediaTypeImageIndex:
			default:
				continue
			}
			i := slices.IndexFunc(img.ImageTags, func(t string) bool { return !slices.Contains(skip, t) })
			if i < 0 {
				continue
			}
			d, err := digest.Parse(aws.ToString(img.ImageDigest))
			if err != nil {
				return nil, false, err
			}
			byDigest[d] = img.ImageTags[i]
		}
		if len(byDigest) > maxForeignTags {
			return nil, false, nil
		}
	}
	children := map[digest.Digest]string{}
	for chunk := range slices.Chunk(slices.Collect(maps.Keys(byDigest)), ecrBatchLimit) {
		ids := make([]ecrtypes.ImageIdentifier, len(chunk))
		for i, d := range chunk {
			ids[i] = ecrtypes.ImageIdentifier{ImageDigest: aws.String(d.String())}
		}
		out, found, err := e.get(ctx, repo, ids)
		if err != nil || !found {
			return nil, false, err
		}
		if err := unexpectedFailure(out.Failures); err != nil {
			return nil, false, err
		}
		for _, img := range out.Images {
			b := []byte(aws.ToString(img.ImageManifest))
			d, err := manifest.Digest(b)
			if err != nil {
				return nil, false, nil
			}
			list, err := indexOf(b)
			if err != nil {
				return nil, false, nil
			}
			if list == nil || byDigest[d] == "" {
				continue
			}
			for _, c := range list.Instances() {
				children[c] = byDigest[d]
			}
		}
	}
	return children, true, nil
}
