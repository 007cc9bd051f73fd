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

// undoTimeout bounds the undo; it runs after the copy's context may have ended (a deadline),
// inside the margin the handler keeps before the Lambda timeout.
const undoTimeout = 20 * time.Second

// written is a tag the copy wrote, with what it held before.
type written struct {
	tag    string
	before destManifest
}

// ledger records the tags a copy writes. Safe for concurrent use.
type ledger struct {
	mu      sync.Mutex
	entries []written
}

// note records that tag, holding before, is about to be written; only the first state of a
// tag counts.
func (l *ledger) note(tag string, before destManifest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.entries {
		if e.tag == tag {
			return
		}
	}
	l.entries = append(l.entries, written{tag: tag, before: before})
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
		cur, err := readManifest(ctx, ref, sys, nil)
		switch {
		case err != nil:
			failed = append(failed, fmt.Errorf("reading %s: %w", e.tag, err))
		case !cur.found && !e.before.found, cur.found && e.before.found && cur.digest == e.before.digest:
			// Never written, or already back.
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
		if err := remove(ctx, Owned{Repo: reference.TrimNamed(repo), Digest: d, Tags: tags}); err != nil {
			failed = append(failed, fmt.Errorf("removing %v: %w", tags, err))
			continue
		}
		restored = append(restored, fmt.Sprintf("%v removed", tags))
	}
	if len(failed) > 0 {
		err := errors.Join(failed...)
		slog.Error("putting the destination back failed", "put_back", restored, "error", err.Error())
		return fmt.Errorf("%w; putting the destination back as it was failed too, so some tags may point at the new image: %v", cause, err)
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
