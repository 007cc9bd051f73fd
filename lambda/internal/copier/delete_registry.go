package copier

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"
	"golang.org/x/sync/errgroup"
)

// maxForeignTags bounds how many other tags of a repository are read to make sure none of
// them points at a manifest about to be deleted. A repository with more keeps the manifest.
const maxForeignTags = 1000

// deleteRegistry removes what o still owns from a registry that speaks only the
// distribution API. That API deletes manifests by digest, never tags, and deleting a
// manifest removes every tag on it and breaks every index that lists it. So a manifest is
// deleted only when every tag that points at it (directly, or through an index) is one this
// resource owns; otherwise it stays, tags and all, and the log says which tag kept it.
func (c *Copier) deleteRegistry(ctx context.Context, sys *types.SystemContext, o Owned) error {
	read := func(tag string) (destManifest, error) {
		ref, err := withTag(o.Repo, tag)
		if err != nil {
			return destManifest{}, err
		}
		return readManifest(ctx, ref, sys, nil)
	}
	// targets are the manifests to delete; owners the tags that own them.
	var targets []digest.Digest
	owners := map[string]bool{}
	for _, t := range o.Tags {
		cur, err := read(t)
		if err != nil {
			return describe(err, "reading", "docker://"+tagName(o.Repo, t), "DestCreds")
		}
		if cur.found && ownedTag(t, cur.digest, o.Digest) {
			owners[t] = true
			if !slices.Contains(targets, o.Digest) {
				targets = append(targets, o.Digest)
			}
		}
	}
	if o.Manifest && !slices.Contains(targets, o.Digest) {
		targets = append(targets, o.Digest)
	}
	var children []digest.Digest
	if len(o.ArchTags) > 0 {
		ref, err := withDigest(o.Repo, o.Digest)
		if err != nil {
			return err
		}
		top, err := readManifest(ctx, ref, sys, nil)
		if err != nil {
			return describe(err, "reading", "docker://"+pinned(o.Repo, o.Digest), "DestCreds")
		}
		var index manifest.List
		if top.found {
			if index, err = indexOf(top.bytes); err != nil {
				return err
			}
		}
		for _, at := range o.ArchTags {
			t := at.Tag
			want, known := childIn(index, at.Platform)
			if !known {
				slog.Info("keeping arch tag: its index is gone or unreadable", "tag", t, "arch", at.Arch, "index", o.Digest.String())
				continue
			}
			cur, err := read(t)
			if err != nil {
				return describe(err, "reading", "docker://"+tagName(o.Repo, t), "DestCreds")
			}
			if cur.found && ownedTag(t, cur.digest, want) {
				owners[t] = true
				children = append(children, want)
			}
		}
	}
	if len(targets)+len(children) == 0 {
		slog.Info("nothing left that this resource owns", "owned", o.String())
		return nil
	}

	kept, err := c.foreignReferences(ctx, sys, o, owners, append(slices.Clone(targets), children...))
	if err != nil {
		return err
	}
	// The index goes first, so that no moment exists in which an index lists a deleted
	// child. A child stays while its index stays.
	deleted := map[digest.Digest]bool{}
	for _, d := range targets {
		if by, ok := kept[d]; ok {
			slog.Info("keeping the manifest: another tag points at it", "digest", d.String(), "tag", by)
			continue
		}
		if err := c.deleteManifest(ctx, sys, o, d); err != nil {
			return err
		}
		deleted[d] = true
	}
	for _, d := range children {
		if by, ok := kept[d]; ok {
			slog.Info("keeping the manifest: another tag points at it", "digest", d.String(), "tag", by)
			continue
		}
		if !deleted[o.Digest] {
			slog.Info("keeping the arch manifest: its index stays", "digest", d.String(), "index", o.Digest.String())
			continue
		}
		if err := c.deleteManifest(ctx, sys, o, d); err != nil {
			return err
		}
	}
	return nil
}

// ownedTag logs and reports whether tag t, pointing at have, still points at want.
func ownedTag(t string, have, want digest.Digest) bool {
	if have != want {
		slog.Info("keeping tag: it no longer points at what this resource wrote", "tag", t, "points_at", have.String(), "wrote", want.String())
		return false
	}
	return true
}

// foreignReferences maps each of targets to a tag outside owners that points at it, directly
// or as the child of an index. A repository whose tags cannot be listed, or that has more
// than maxForeignTags others, keeps every target.
func (c *Copier) foreignReferences(ctx context.Context, sys *types.SystemContext, o Owned, owners map[string]bool, targets []digest.Digest) (map[digest.Digest]string, error) {
	kept := map[digest.Digest]string{}
	keepAll := func(why string) (map[digest.Digest]string, error) {
		for _, d := range targets {
			kept[d] = why
		}
		return kept, nil
	}
	repoRef, err := withTag(o.Repo, "latest")
	if err != nil {
		return nil, err
	}
	tags, err := watchedCall(ctx, hostsOf(repoRef), func() ([]string, error) { return docker.GetRepositoryTags(ctx, sys, repoRef) })
	if err != nil {
		slog.Warn("cannot list the repository's tags, so no manifest is deleted", "repository", o.Repo.Name(), "error", err.Error())
		return keepAll("(tags not listable)")
	}
	var others []string
	for _, t := range tags {
		if !owners[t] {
			others = append(others, t)
		}
	}
	if len(others) > maxForeignTags {
		return keepAll(fmt.Sprintf("(%d other tags: too many to check)", len(others)))
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, t := range others {
		g.Go(func() error {
			ref, err := withTag(o.Repo, t)
			if err != nil {
				return err
			}
			m, err := readManifest(gctx, ref, sys, nil)
			if err != nil {
				return describe(err, "reading", "docker://"+tagName(o.Repo, t), "DestCreds")
			}
			if !m.found {
				return nil
			}
			refs := []digest.Digest{m.digest}
			if manifest.MIMETypeIsMultiImage(m.mime) {
				if list, err := manifest.ListFromBlob(m.bytes, m.mime); err == nil {
					refs = append(refs, list.Instances()...)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, d := range targets {
				if slices.Contains(refs, d) {
					if _, seen := kept[d]; !seen {
						kept[d] = t
					}
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return kept, nil
}

func (c *Copier) deleteManifest(ctx context.Context, sys *types.SystemContext, o Owned, d digest.Digest) error {
	ref, err := withDigest(o.Repo, d)
	if err != nil {
		return err
	}
	what := "docker://" + pinned(o.Repo, d)
	_, err = watchedCall(ctx, hostsOf(ref), func() (struct{}, error) { return struct{}{}, ref.DeleteImage(ctx, sys) })
	if err != nil && !isNotFound(err) {
		return describe(err, "deleting", what, "DestCreds")
	}
	slog.Info("deleted", "dest", what)
	return nil
}
