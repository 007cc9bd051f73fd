package copier

// The copy.Image engine: containers/image's general copy, for everything the direct engine
// declines (see chooseEngine), and for writing a filtered index once the direct engine has
// put its children in place.

import (
	"context"
	"errors"
	"time"

	digest "github.com/opencontainers/go-digest"
	imgcopy "go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// imageOptions are copy.Image's options for p; childrenInPlace says the direct engine has
// already copied the selected children of a filtered index. A new value per attempt: a
// retry never sees what an earlier attempt set.
func (c *Copier) imageOptions(srcRef types.ImageReference, srcSys, destSys *types.SystemContext, p plan, childrenInPlace bool) *imgcopy.Options {
	opts := &imgcopy.Options{
		SourceCtx:            srcSys,
		DestinationCtx:       destSys,
		MaxParallelDownloads: c.opts.MaxParallel,
		// Byte-for-byte copies keep the source digest; a failure to do so is
		// an error rather than a silent rewrite. Archive sources and
		// filtered indexes are new manifests by nature.
		// A forced format (DestManifestFormat) is a new manifest too.
		PreserveDigests: byteForByte(srcRef) && p.mode != modeFiltered && p.format == "",
		// "" keeps the source's manifest type.
		ForceManifestMIMEType: p.format,
		// copy.Image writes the filtered index and finds the children in place.
		OptimizeDestinationImageAlreadyExists: childrenInPlace,
	}
	switch p.mode {
	case modeImageIndex:
		opts.ImageListSelection = imgcopy.CopyAllImages
	case modeFiltered:
		opts.ImageListSelection = imgcopy.CopySpecificImages
		opts.Instances = p.children
		opts.SparseManifestListAction = imgcopy.StripSparseManifestList
	default:
		opts.ImageListSelection = imgcopy.CopySystemImage
	}
	return opts
}

// copyImage runs one attempt of copy.Image and returns the digest of what it wrote.
func (c *Copier) copyImage(ctx context.Context, pc *signature.PolicyContext, srcRef, destRef types.ImageReference,
	srcSys, destSys *types.SystemContext, p plan, childrenInPlace bool) (digest.Digest, error) {
	opts := c.imageOptions(srcRef, srcSys, destSys, p, childrenInPlace)
	prog := startProgress(c.opts.ProgressEvery, stallWatchOf(ctx).touch)
	opts.Progress, opts.ProgressInterval, opts.ReportWriter = prog.ch, time.Second, stallReport(ctx)
	out, err := imgcopy.Image(ctx, pc, destRef, srcRef, opts)
	// A panic in progress reporting is a bug, and fails the copy like any other.
	if err := errors.Join(err, prog.stop()); err != nil {
		return "", err
	}
	return manifest.Digest(out)
}
