package copier

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/props"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"
)

// tagged is a destination tag to point at a digest.
type tagged struct {
	tag    string
	digest digest.Digest
	why    string
}

// putTags points ArchImageTags and DestTags at their manifests. Tags
// already pointing there are left alone, so repositories with immutable
// tags do not fail on re-runs.
func (c *Copier) putTags(ctx context.Context, destNamed reference.Named, dest *login, job Job, top digest.Digest, led *ledger) error {
	sys := dest.sys
	if len(job.ArchTags) == 0 && len(job.DestTags) == 0 {
		return nil
	}
	topRef, err := withDigest(destNamed, top)
	if err != nil {
		return err
	}
	var topManifest destManifest
	err = withRetry(ctx, job.Retry, "reading the copied manifest", stallGuard(hostsOf(topRef), func(ctx context.Context) error {
		var err error
		topManifest, err = readManifest(ctx, topRef, sys, nil)
		return err
	}), dest)
	if err != nil {
		return describe(err, "reading", "docker://"+pinned(destNamed, top), "DestCreds")
	}
	if !topManifest.found {
		return fmt.Errorf("%w: docker://%s vanished right after the copy", errs.ErrNotFound, pinned(destNamed, top))
	}
	var todo []tagged
	if len(job.ArchTags) > 0 {
		if !manifest.MIMETypeIsMultiImage(topManifest.mime) {
			return fmt.Errorf("%w: ArchImageTags: the source is a single image, not an index", errs.ErrInvalidProperty)
		}
		list, err := manifest.ListFromBlob(topManifest.bytes, topManifest.mime)
		if err != nil {
			return err
		}
		for _, at := range job.ArchTags {
			d, ok := childFor(list, at.Platform)
			if !ok {
				return fmt.Errorf("%w: ArchImageTags: the index has no %s image (it has %s)", errs.ErrNotFound, at.Platform.Full(), platformsOf(list))
			}
			todo = append(todo, tagged{tag: at.Tag, digest: d, why: "arch " + at.Arch})
		}
	}
	for _, t := range job.DestTags {
		todo = append(todo, tagged{tag: t, digest: top, why: "DestTags"})
	}
	for _, t := range todo {
		if err := withRetry(ctx, job.Retry, "tagging "+t.tag, stallGuard(reference.Domain(destNamed), func(ctx context.Context) error {
			return c.putTag(ctx, destNamed, sys, t, led)
		}), dest); err != nil {
			return describe(err, "tagging", "docker://"+reference.TrimNamed(destNamed).String()+":"+t.tag, "DestCreds")
		}
	}
	return nil
}

// childFor finds the index child for a platform.
func childFor(list manifest.List, pl props.Platform) (digest.Digest, bool) {
	for _, d := range list.Instances() {
		inst, err := list.Instance(d)
		if err != nil {
			continue
		}
		if _, ok := matchPlatform(inst, []props.Platform{pl}); ok {
			return d, true
		}
	}
	return "", false
}

func (c *Copier) putTag(ctx context.Context, destNamed reference.Named, sys *types.SystemContext, t tagged, led *ledger) error {
	tagRef, err := withTag(destNamed, t.tag)
	if err != nil {
		return err
	}
	cur, err := readManifest(ctx, tagRef, sys, nil)
	if err != nil {
		return err
	}
	if cur.found && cur.digest == t.digest {
		slog.Info("tag already up to date", "tag", t.tag, "digest", t.digest.String(), "for", t.why)
		return nil
	}
	// The manifest bytes are read back from the destination itself so the
	// new tag gets exactly the same digest.
	byDigest, err := withDigest(destNamed, t.digest)
	if err != nil {
		return err
	}
	m, err := readManifest(ctx, byDigest, sys, nil)
	if err != nil {
		return err
	}
	if !m.found {
		return fmt.Errorf("%w: %s is not in the destination", errs.ErrNotFound, pinned(destNamed, t.digest))
	}
	led.note(t.tag, cur, t.digest)
	if err := putManifestBytes(ctx, tagRef, sys, m.bytes); err != nil {
		return err
	}
	slog.Info("tagged", "tag", t.tag, "digest", t.digest.String(), "for", t.why)
	return nil
}
