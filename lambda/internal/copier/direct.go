package copier

// Direct copies: registry to registry, manifests kept byte for byte.
//
// That is the deploy-time case (an image built and pushed by CDK, or a public image, copied
// into ECR), and containers/image's copy.Image pays there for being general:
//   - it hashes every blob on the way (sha256 over all bytes: 40% of the copier's CPU in
//     bench/RESULTS.md), although the destination registry verifies each blob's digest when
//     the upload is committed (PUT ?digest=, which the distribution spec requires), so a
//     corrupt or truncated source blob still fails the copy, with DIGEST_INVALID;
//   - it uploads the config only after every layer, then the manifest;
//   - it checks every blob twice at the destination (a HEAD before the copy, another inside
//     PutBlob);
//   - it copies the children of an index one after another.
//
// copyDirect drives the same transports (containers/image's docker ImageSource and
// ImageDestination, so auth, proxies, TLS, resumed reads, 429 handling and the registry
// quirks they know stay the same) but schedules the work itself: every blob of every selected
// manifest, config included, is copied at once (MaxParallel large blobs, largest first, and up
// to 16 small ones besides: those are latency-bound), each
// streamed from the source GET straight into the destination upload (POST, one PATCH with
// the whole blob, PUT; never chunked, which ECR mishandles). When source and destination are
// the same registry, a cross-repository mount is tried first. Manifests follow once their
// blobs are in place; an index last.
//
// Anything else (archives, schema 1, foreign or encrypted layers, manifest types the
// destination does not take, a destination given by digest) goes through copy.Image.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/blobinfocache/memory"
	"go.podman.io/image/v5/types"
)

// directImage is one image manifest to copy and the blobs it needs.
type directImage struct {
	digest digest.Digest
	bytes  []byte
	blobs  []types.BlobInfo
	config digest.Digest
}

// directOutcome says how far copyDirect got.
type directOutcome int

const (
	// directNotApplicable: nothing was written; copy.Image must do the copy.
	directNotApplicable directOutcome = iota
	// directChildrenCopied: the selected children of an index are in place (filtered
	// copies); copy.Image writes the edited index and finds the children present.
	directChildrenCopied
	// directDone: the destination holds the image; the digest is valid.
	directDone
)

// imageManifestTypes are the single-image manifest types copied directly.
var imageManifestTypes = []string{manifest.DockerV2Schema2MediaType, imgspecv1.MediaTypeImageManifest}

// copyDirect copies per p when the images qualify (see the top of this file).
func (c *Copier) copyDirect(ctx context.Context, srcRef, destRef types.ImageReference, srcSys, destSys *types.SystemContext, p plan) (digest.Digest, directOutcome, error) {
	destNamed := destRef.DockerReference()
	if !isRegistry(srcRef) || destNamed == nil {
		return "", directNotApplicable, nil
	}
	if _, byDigest := destNamed.(reference.Digested); byDigest {
		return "", directNotApplicable, nil
	}
	// The planned source is still open: its connection and login are reused.
	src, top, topType := p.src, p.top, p.topType
	if src == nil {
		var err error
		if src, err = srcRef.NewImageSource(ctx, srcSys); err != nil {
			return "", directNotApplicable, err
		}
		defer src.Close()
		if top, topType, err = src.GetManifest(ctx, nil); err != nil {
			return "", directNotApplicable, err
		}
	}
	if topType == "" {
		topType = manifest.GuessMIMEType(top)
	}

	var (
		images []directImage
		// final is written to the destination reference last; nil for filtered copies,
		// whose edited index copy.Image writes.
		final     []byte
		finalType string
	)
	switch {
	case !manifest.MIMETypeIsMultiImage(topType):
		if p.mode != modeSingle {
			return "", directNotApplicable, nil
		}
		d, err := manifest.Digest(top)
		if err != nil {
			return "", directNotApplicable, err
		}
		img, ok := parseDirectImage(d, top, topType)
		if !ok {
			return "", directNotApplicable, nil
		}
		images, final, finalType = []directImage{img}, top, topType
	default:
		var want []digest.Digest
		switch p.mode {
		case modeSingle:
			want = []digest.Digest{p.want}
		case modeFiltered:
			want = p.children
		case modeAll:
			list, err := manifest.ListFromBlob(top, topType)
			if err != nil {
				return "", directNotApplicable, err
			}
			want = list.Instances()
			final, finalType = top, topType
		}
		for _, d := range want {
			b, t, err := src.GetManifest(ctx, &d)
			if err != nil {
				return "", directNotApplicable, err
			}
			if ok, err := manifest.MatchesDigest(b, d); err != nil || !ok {
				return "", directNotApplicable, fmt.Errorf("the source's manifest %s does not match its digest", d)
			}
			if t == "" {
				t = manifest.GuessMIMEType(b)
			}
			img, ok := parseDirectImage(d, b, t)
			if !ok {
				return "", directNotApplicable, nil
			}
			images = append(images, img)
			if p.mode == modeSingle {
				final, finalType = b, t
			}
		}
	}

	dest, err := destRef.NewImageDestination(ctx, destSys)
	if err != nil {
		return "", directNotApplicable, err
	}
	defer dest.Close()
	if accepted := dest.SupportedManifestMIMETypes(); accepted != nil {
		if final != nil && !slices.Contains(accepted, finalType) {
			return "", directNotApplicable, nil
		}
		for _, img := range images {
			if !slices.Contains(accepted, manifest.GuessMIMEType(img.bytes)) {
				return "", directNotApplicable, nil
			}
		}
	}

	if err := c.copyBlobs(ctx, src, dest, srcRef, destRef, images); err != nil {
		return "", directNotApplicable, err
	}
	// Children of an index go by digest; a single image (or the child selected out of an
	// index) goes to the destination reference.
	multi := final == nil || manifest.MIMETypeIsMultiImage(finalType)
	if multi {
		for _, img := range images {
			if err := dest.PutManifest(ctx, img.bytes, &img.digest); err != nil {
				return "", directNotApplicable, err
			}
		}
	}
	if final == nil {
		return "", directChildrenCopied, nil
	}
	if err := dest.PutManifest(ctx, final, nil); err != nil {
		return "", directNotApplicable, err
	}
	if err := dest.Commit(ctx, image.UnparsedInstance(src, nil)); err != nil {
		return "", directNotApplicable, err
	}
	d, err := manifest.Digest(final)
	return d, directDone, err
}

// parseDirectImage lists the blobs of an image manifest; ok is false when the manifest is
// not one copyDirect handles.
func parseDirectImage(d digest.Digest, b []byte, mime string) (directImage, bool) {
	if !slices.Contains(imageManifestTypes, mime) {
		return directImage{}, false
	}
	m, err := manifest.FromBlob(b, mime)
	if err != nil {
		return directImage{}, false
	}
	cfg := m.ConfigInfo()
	if cfg.Digest == "" {
		return directImage{}, false
	}
	img := directImage{digest: d, bytes: b, config: cfg.Digest, blobs: []types.BlobInfo{{Digest: cfg.Digest, Size: cfg.Size, MediaType: cfg.MediaType}}}
	for _, l := range m.LayerInfos() {
		// Foreign (non-distributable) layers stay where they are and encrypted ones need
		// keys: copy.Image knows what to do with both.
		if len(l.URLs) > 0 || strings.HasSuffix(l.MediaType, "+encrypted") || l.Digest == "" {
			return directImage{}, false
		}
		img.blobs = append(img.blobs, l.BlobInfo)
	}
	return img, true
}

const (
	// smallBlobSize: blobs below it are latency-bound (HEAD, POST, PATCH, PUT for a few KiB).
	smallBlobSize = 1 << 20
	// smallBlobParallel small blobs are copied at once, besides MaxParallel large ones.
	smallBlobParallel = 16
)

// copyBlobs copies every blob of images (each digest once): MaxParallel large ones and
// smallBlobParallel small ones at a time.
func (c *Copier) copyBlobs(ctx context.Context, src types.ImageSource, dest types.ImageDestination, srcRef, destRef types.ImageReference, images []directImage) error {
	type job struct {
		info     types.BlobInfo
		isConfig bool
	}
	seen := map[digest.Digest]bool{}
	var jobs []job
	for _, img := range images {
		for _, b := range img.blobs {
			if !seen[b.Digest] {
				seen[b.Digest] = true
				jobs = append(jobs, job{info: b, isConfig: b.Digest == img.config})
			}
		}
	}
	// Largest first: the longest transfer starts at once and the small ones fill in.
	slices.SortStableFunc(jobs, func(a, b job) int { return cmp.Compare(b.info.Size, a.info.Size) })

	// Within one registry a blob can be mounted from the source repository instead of
	// copied: record where the source blobs are, so TryReusingBlob tries that mount.
	cache := memory.New()
	srcNamed, destNamed := srcRef.DockerReference(), destRef.DockerReference()
	mount := reference.Domain(srcNamed) == reference.Domain(destNamed) && srcNamed.Name() != destNamed.Name()
	if mount {
		for _, j := range jobs {
			cache.RecordKnownLocation(srcRef.Transport(), types.BICTransportScope{Opaque: reference.Domain(srcNamed)},
				j.info.Digest, types.BICLocationReference{Opaque: srcNamed.Name()})
		}
	}

	prog := startProgress(c.opts.ProgressEvery)
	defer prog.stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	run := func(j job) {
		if err := copyOneBlob(ctx, src, dest, j.info, j.isConfig, cache, mount, prog.ch); err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("copying blob %s: %w", j.info.Digest, err)
			}
			mu.Unlock()
			cancel()
		}
	}
	// Large blobs are bounded by MaxParallel. Small ones (configs, small layers) cost a few
	// round trips each and almost no bandwidth: they have slots of their own, so that they
	// never wait behind a large transfer.
	var large, small []job
	for _, j := range jobs {
		if j.info.Size >= 0 && j.info.Size < smallBlobSize {
			small = append(small, j)
		} else {
			large = append(large, j)
		}
	}
	dispatch := func(jobs []job, slots int) {
		defer wg.Done()
		sem := make(chan struct{}, slots)
		for _, j := range jobs {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				run(j)
			}()
		}
	}
	wg.Add(2)
	go dispatch(large, max(int(c.opts.MaxParallel), 1))
	go dispatch(small, smallBlobParallel)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = context.Cause(ctx)
	}
	return firstErr
}

// copyOneBlob makes info present at the destination: already there, mounted, or streamed
// from the source (read only if the destination lacks it).
func copyOneBlob(ctx context.Context, src types.ImageSource, dest types.ImageDestination, info types.BlobInfo, isConfig bool,
	cache types.BlobInfoCache, mount bool, events chan<- types.ProgressProperties) error {
	if mount {
		reused, _, err := dest.TryReusingBlob(ctx, info, cache, false)
		if err != nil {
			return err
		}
		if reused {
			events <- types.ProgressProperties{Event: types.ProgressEventSkipped}
			return nil
		}
	}
	body := &lazyBlob{ctx: ctx, src: src, info: info, cache: cache, events: events}
	defer body.Close()
	// PutBlob checks for the blob first (one HEAD) and reads body only to upload it; with the
	// digest given it does not hash the stream.
	up, err := dest.PutBlob(ctx, body, info, cache, isConfig)
	if err != nil {
		return err
	}
	if up.Digest != info.Digest {
		return fmt.Errorf("the destination stored it as %s", up.Digest)
	}
	if !body.opened {
		events <- types.ProgressProperties{Event: types.ProgressEventSkipped}
		return nil
	}
	if info.Size >= 0 && body.n != info.Size {
		return fmt.Errorf("read %d bytes from the source, the manifest says %d", body.n, info.Size)
	}
	events <- types.ProgressProperties{Event: types.ProgressEventDone, OffsetUpdate: uint64(body.n - body.reported)}
	return nil
}

// lazyBlob opens the source blob at its first Read, so that a blob the destination already
// has is never fetched.
type lazyBlob struct {
	ctx      context.Context
	src      types.ImageSource
	info     types.BlobInfo
	cache    types.BlobInfoCache
	events   chan<- types.ProgressProperties
	rc       io.ReadCloser
	opened   bool
	n        int64
	reported int64
}

// progressStep is how many bytes are read between progress events.
const progressStep = 8 << 20

func (l *lazyBlob) Read(p []byte) (int, error) {
	if !l.opened {
		l.opened = true
		rc, _, err := l.src.GetBlob(l.ctx, l.info, l.cache)
		if err != nil {
			return 0, fmt.Errorf("reading the source: %w", err)
		}
		l.rc = rc
	}
	if l.rc == nil {
		return 0, errors.New("reading the source failed")
	}
	n, err := l.rc.Read(p)
	l.n += int64(n)
	if l.n-l.reported >= progressStep {
		l.events <- types.ProgressProperties{Event: types.ProgressEventRead, OffsetUpdate: uint64(l.n - l.reported)}
		l.reported = l.n
	}
	return n, err
}

func (l *lazyBlob) Close() error {
	if l.rc != nil {
		return l.rc.Close()
	}
	return nil
}
