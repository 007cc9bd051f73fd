package copier

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	ecrpublictypes "github.com/aws/aws-sdk-go-v2/service/ecrpublic/types"
	digest "github.com/opencontainers/go-digest"
)

// ECR Public's side of the ECR delete (delete_ecr.go): the ecr-public API.

type publicECR struct{ api ECRPublicAPI }

func (publicECR) name() string { return "ECR Public" }

// describeTags lists every tag of repo with its digest.
func (e publicECR) describeTags(ctx context.Context, repo string) (map[string]digest.Digest, bool, error) {
	got := map[string]digest.Digest{}
	p := ecrpublic.NewDescribeImageTagsPaginator(e.api, &ecrpublic.DescribeImageTagsInput{RepositoryName: aws.String(repo)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			if _, ok := errors.AsType[*ecrpublictypes.RepositoryNotFoundException](err); ok {
				return nil, false, nil
			}
			return nil, false, err
		}
		for _, td := range out.ImageTagDetails {
			if td.ImageDetail == nil {
				continue
			}
			d, err := digest.Parse(aws.ToString(td.ImageDetail.ImageDigest))
			if err != nil {
				return nil, true, fmt.Errorf("tag %s: %w", aws.ToString(td.ImageTag), err)
			}
			got[aws.ToString(td.ImageTag)] = d
		}
	}
	return got, true, nil
}

func (e publicECR) tagDigests(ctx context.Context, repo string, tags []string) (map[string]digest.Digest, bool, error) {
	all, found, err := e.describeTags(ctx, repo)
	if err != nil || !found {
		return nil, found, err
	}
	got := map[string]digest.Digest{}
	for _, t := range tags {
		if d, ok := all[t]; ok {
			got[t] = d
		}
	}
	return got, true, nil
}

func (publicECR) manifest(context.Context, string, digest.Digest) ([]byte, bool, error) {
	return nil, false, nil
}

func (e publicECR) tagsOn(ctx context.Context, repo string, d digest.Digest) ([]string, bool, error) {
	all, _, err := e.describeTags(ctx, repo)
	if err != nil {
		return nil, false, err
	}
	var tags []string
	for t, td := range all {
		if td == d {
			tags = append(tags, t)
		}
	}
	slices.Sort(tags)
	return tags, true, nil
}

func (e publicECR) untag(ctx context.Context, repo string, tags []pinnedTag) ([]string, error) {
	ids := make([]ecrpublictypes.ImageIdentifier, len(tags))
	for i, t := range tags {
		ids[i] = ecrpublictypes.ImageIdentifier{ImageTag: aws.String(t.tag), ImageDigest: aws.String(t.digest.String())}
	}
	out, err := e.api.BatchDeleteImage(ctx, &ecrpublic.BatchDeleteImageInput{RepositoryName: aws.String(repo), ImageIds: ids})
	if err != nil {
		if _, ok := errors.AsType[*ecrpublictypes.RepositoryNotFoundException](err); ok {
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

func (e publicECR) deleteDigest(ctx context.Context, repo string, d digest.Digest) error {
	out, err := e.api.BatchDeleteImage(ctx, &ecrpublic.BatchDeleteImageInput{RepositoryName: aws.String(repo),
		ImageIds: []ecrpublictypes.ImageIdentifier{{ImageDigest: aws.String(d.String())}}})
	if err != nil {
		if _, ok := errors.AsType[*ecrpublictypes.RepositoryNotFoundException](err); ok {
			return nil
		}
		return err
	}
	for _, f := range out.Failures {
		switch f.FailureCode {
		case ecrpublictypes.ImageFailureCodeImageNotFound, ecrpublictypes.ImageFailureCodeImageTagDoesNotMatchDigest:
			continue
		}
		return fmt.Errorf("%s: %s", f.FailureCode, aws.ToString(f.FailureReason))
	}
	return nil
}
