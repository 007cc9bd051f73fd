package copier

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	digest "github.com/opencontainers/go-digest"
)

// keepLastTag drops every tag from untag when untagging them would leave d, which the
// repository held before they were written, without a tag: ECR and ECR Public delete an
// image with its last tag. The tags then stay (logged): a tag too many loses nothing, a
// deleted image loses what another deployment or a pin by digest uses.
func keepLastTag(ctx context.Context, svc imageService, repo string, d digest.Digest, untag []pinnedTag) ([]pinnedTag, error) {
	if len(untag) == 0 {
		return untag, nil
	}
	tags, ok, err := svc.tagsOn(ctx, repo, d)
	if err != nil {
		return nil, fmt.Errorf("%s: reading %s@%s: %w", svc.name(), repo, d, err)
	}
	going := tagsOf(untag)
	if ok && slices.ContainsFunc(tags, func(t string) bool { return !slices.Contains(going, t) }) {
		return untag, nil
	}
	slog.Info("keeping tags: removing them would delete an image that was in the repository before",
		"registry", svc.name(), "repository", repo, "digest", d.String(), "tags", going)
	return nil, nil
}
