package copier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/types"
)

// A copy writes its tags last, but a failure can still come after some were written (an
// immutable DestTag, a registry that dies, the deadline). CloudFormation then either rolls
// the stack back or deletes a resource that owns nothing, and neither puts back what the tag
// pointed at before. So the copy keeps a ledger of the tags it wrote, with their earlier
// state, and on failure puts each back: an earlier manifest is re-tagged (its bytes were
// read before the write), a tag that did not exist is removed again.
//
// The undo is exact about what is its own. A tag is touched only while it still holds the
// digest this copy wrote: another deployment that shares the tag and wrote it since has
// succeeded, and its tag stays. And a manifest that the repository held before the copy
// (untagged, pinned by digest, under another tag) is never deleted: only tags go, and where
// removing a tag would take the manifest with it (the distribution API deletes manifests,
// not tags; ECR deletes an image with its last tag), the tag stays and the log says so.

// undoTimeout bounds the undo; it runs after the copy's context may have ended (a deadline),
// inside the margin the handler keeps before the Lambda timeout.
const undoTimeout = 20 * time.Second

// written is a tag the copy wrote, with what it held before.
type written struct {
	tag    string
	before destManifest
	// wrote is the digest the copy put on the tag; "" when it is not known (a transfer that
	// failed before its digest could be told).
	wrote digest.Digest
}

// ledger records the tags a copy writes, and which manifests the repository held before
// the copy. Safe for concurrent use.
type ledger struct {
	mu      sync.Mutex
	entries []written
	// held records, for digests looked up before the copy wrote anything, whether the
	// repository held them. A digest not looked up counts as held: the undo then only does
	// what cannot remove a manifest.
	held map[digest.Digest]bool
}

// note records that tag, holding before, is about to be written with wrote ("" when not yet
// known); only the first state of a tag counts.
func (l *ledger) note(tag string, before destManifest, wrote digest.Digest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.entries {
		if e.tag == tag {
			return
		}
	}
	l.entries = append(l.entries, written{tag: tag, before: before, wrote: wrote})
}

// wrote records the digest a noted tag was written with, once the transfer told it.
func (l *ledger) wrote(tag string, d digest.Digest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.entries {
		if l.entries[i].tag == tag {
			l.entries[i].wrote = d
		}
	}
}

// sawBefore records whether the repository held d before the copy wrote anything.
func (l *ledger) sawBefore(d digest.Digest, held bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		l.held = map[digest.Digest]bool{}
	}
	l.held[d] = held
}

// new reports whether d is known to be absent from the repository before the copy.
func (l *ledger) new(d digest.Digest) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	held, seen := l.held[d]
	return seen && !held
}

// lookBefore records whether the repository holds each of ds, before the copy writes. A
// failed look-up leaves the digest unknown, which counts as held.
func (l *ledger) lookBefore(ctx context.Context, repo reference.Named, sys *types.SystemContext, ds []digest.Digest) {
	for _, d := range ds {
		if d == "" {
			continue
		}
		ref, err := withDigest(repo, d)
		if err != nil {
			continue
		}
		m, err := readManifest(ctx, ref, sys, nil)
		if err != nil {
			slog.Warn("cannot tell whether the destination already holds a manifest; a failed copy will not delete it",
				"digest", d.String(), "error", err.Error())
			continue
		}
		l.sawBefore(d, m.found)
	}
}

// undo puts every tag in the ledger back as it was, and returns cause with what it did.
func (c *Copier) undo(ctx context.Context, repo reference.Named, sys *types.SystemContext, l *ledger, remove func(context.Context, Owned) error, cause error) error {
	l.mu.Lock()
	entries := slices.Clone(l.entries)
	l.mu.Unlock()
	if len(entries) == 0 {
		return cause
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	var (
		restored []string
		left     []string // tags that stay at what this copy wrote
		failed   []error
		// removals are grouped by digest: on a registry that deletes manifests, not tags,
		// two new tags on one manifest can only go together.
		removals = map[digest.Digest][]string{}
	)
	for _, e := range slices.Backward(entries) {
		ref, err := withTag(repo, e.tag)
		if err != nil {
			failed = append(failed, err)
			continue
		}
		// Read right before acting: what the tag holds now decides whose it is.
		cur, err := readManifest(ctx, ref, sys, nil)
		switch {
		case err != nil:
			failed = append(failed, fmt.Errorf("reading %s: %w", e.tag, err))
		case !cur.found && !e.before.found, cur.found && e.before.found && cur.digest == e.before.digest:
			// Never written, or already back.
		case !cur.found:
			slog.Info("leaving tag: it was removed after this copy wrote it", "tag", e.tag)
		case e.wrote == "":
			left = append(left, e.tag)
			slog.Warn("leaving tag: the copy failed before it could tell what it wrote, so the tag may be another writer's",
				"tag", e.tag, "points_at", cur.digest.String())
		case cur.digest != e.wrote:
			slog.Info("leaving tag: another writer re-pointed it after this copy wrote it",
				"tag", e.tag, "points_at", cur.digest.String(), "wrote", e.wrote.String())
		case e.before.found:
			if err := putManifestBytes(ctx, ref, sys, e.before.bytes); err != nil {
				failed = append(failed, fmt.Errorf("re-tagging %s at %s: %w", e.tag, e.before.digest, err))
				continue
			}
			restored = append(restored, e.tag+"@"+e.before.digest.String())
		default:
			removals[cur.digest] = append(removals[cur.digest], e.tag)
		}
	}
	for d, tags := range removals {
		if remove == nil {
			failed = append(failed, fmt.Errorf("removing %v: no way to delete configured", tags))
			continue
		}
		o := Owned{Repo: reference.TrimNamed(repo), Digest: d, Tags: tags, KeepManifest: !l.new(d)}
		if err := remove(ctx, o); err != nil {
			failed = append(failed, fmt.Errorf("removing %v: %w", tags, err))
			continue
		}
		for _, t := range tags {
			if ref, err := withTag(repo, t); err == nil {
				if m, err := readManifest(ctx, ref, sys, nil); err == nil && m.found && m.digest == d {
					left = append(left, t)
					continue
				}
			}
			restored = append(restored, t+" removed")
		}
	}
	if len(failed) > 0 {
		err := errors.Join(failed...)
		slog.Error("putting the destination back failed", "put_back", restored, "error", err.Error())
		return fmt.Errorf("%w; putting the destination back as it was failed too, so some tags may point at the new image: %v", cause, err)
	}
	if len(left) > 0 {
		slog.Warn("the copy failed; the destination tags were put back, except some that stay", "put_back", restored, "left", left)
		return fmt.Errorf("%w (the destination tags were put back, except %v, left where removing them could take an image that was there before, or another writer's)", cause, left)
	}
	slog.Info("the copy failed; the destination tags were put back as they were", "put_back", restored)
	return fmt.Errorf("%w (the destination tags were put back as they were)", cause)
}

// putManifestBytes tags ref with manifest bytes b, which the repository already holds.
func putManifestBytes(ctx context.Context, ref types.ImageReference, sys *types.SystemContext, b []byte) error {
	dest, err := ref.NewImageDestination(ctx, sys)
	if err != nil {
		return err
	}
	defer dest.Close()
	if err := dest.PutManifest(ctx, b, nil); err != nil {
		return err
	}
	return dest.Commit(ctx, nil)
}
