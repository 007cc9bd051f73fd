package copier

import (
	"context"
	"fmt"
	"time"

	"github.com/cdk-ecr-deployment/handler/internal/props"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"
)

// destManifest is what a destination tag holds; found is false when the
// tag (or repository) does not exist.
type destManifest struct {
	found  bool
	digest digest.Digest
	bytes  []byte
	mime   string
}

func (c *Copier) destState(ctx context.Context, ref types.ImageReference, dest *login) (destManifest, error) {
	var have destManifest
	err := withRetry(ctx, props.Retry{NumAttempts: 2, BaseDelay: time.Second, MaxDelay: time.Second}, "reading the destination", stallGuard(hostsOf(ref), func(ctx context.Context) error {
		var err error
		have, err = readManifest(ctx, ref, dest.sys, nil)
		return err
	}), dest)
	return have, err
}

// readManifest GETs a manifest, a watched call of ctx's attempt; a missing tag or repository
// is not an error.
func readManifest(ctx context.Context, ref types.ImageReference, sys *types.SystemContext, instance *digest.Digest) (destManifest, error) {
	return watchedCall(ctx, hostsOf(ref), func() (destManifest, error) { return getManifest(ctx, ref, sys, instance) })
}

func getManifest(ctx context.Context, ref types.ImageReference, sys *types.SystemContext, instance *digest.Digest) (destManifest, error) {
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		if isNotFound(err) {
			return destManifest{}, nil
		}
		return destManifest{}, err
	}
	defer src.Close()
	mb, mt, err := src.GetManifest(ctx, instance)
	if err != nil {
		if isNotFound(err) {
			return destManifest{}, nil
		}
		return destManifest{}, err
	}
	if want := askedDigest(ref, instance); want != "" {
		// What is read by digest is PUT again under other tags (DestTags, ArchImageTags) and
		// decides what a tag points at: it must be that manifest.
		if err := checkManifestDigest(mb, want); err != nil {
			return destManifest{}, err
		}
	}
	d, err := manifest.Digest(mb)
	if err != nil {
		return destManifest{}, err
	}
	if mt == "" {
		mt = manifest.GuessMIMEType(mb)
	}
	return destManifest{found: true, digest: d, bytes: mb, mime: mt}, nil
}

// askedDigest is the digest a manifest read asks for: instance, else the digest ref is pinned
// to; "" for a tag.
func askedDigest(ref types.ImageReference, instance *digest.Digest) digest.Digest {
	if instance != nil {
		return *instance
	}
	if d, ok := ref.DockerReference().(reference.Digested); ok {
		return d.Digest()
	}
	return ""
}

// checkManifestDigest fails when manifest bytes b, read as manifest want, have another
// digest: a registry (or something in between) serving other bytes for a digest. No
// registry client on the way checks it (containers/image returns the body as read).
func checkManifestDigest(b []byte, want digest.Digest) error {
	if ok, err := manifest.MatchesDigest(b, want); err == nil && ok {
		return nil
	}
	got, err := manifest.Digest(b)
	if err != nil {
		return fmt.Errorf("the registry answered the request for manifest %s with an unreadable manifest: %w", want, err)
	}
	return fmt.Errorf("the registry answered the request for manifest %s with a manifest whose digest is %s: refusing to use it", want, got)
}
