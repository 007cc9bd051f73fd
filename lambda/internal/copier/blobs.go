package copier

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"

	"github.com/cdk-ecr-deployment/handler/internal/crash"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/blobinfocache/memory"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/types"
	"golang.org/x/sync/errgroup"
)

// The blob pool of the direct engine: every blob of every selected manifest at once, in two
// lanes (errgroups with SetLimit): MaxParallel large blobs, largest first, and small ones.

const (
	// smallBlobSize: blobs below it are latency-bound (HEAD, POST, PATCH, PUT for a few KiB).
	smallBlobSize = 1 << 20
	// smallBlobParallel small blobs are copied at once, besides MaxParallel large ones.
	smallBlobParallel = 16
)

// blobHook, when set (only tests set it), is called by each blob worker before it copies its blob.
var blobHook func(types.BlobInfo)

// copyBlobs copies every blob of images (each digest once): MaxParallel large ones and
// smallBlobParallel small ones at a time. Layers go through built when it is not nil (the
// built engine: a docker save archive's layers, compressed or stored on the way), else byte
// for byte.
func (c *Copier) copyBlobs(ctx context.Context, src types.ImageSource, dest types.ImageDestination, srcRef, destRef types.ImageReference, images []directImage, built *builtLayers) error {
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
	// An archive source has no name (DockerReference is nil): nothing to mount from.
	mount := srcNamed != nil && destNamed != nil &&
		reference.Domain(srcNamed) == reference.Domain(destNamed) && srcNamed.Name() != destNamed.Name()
	if mount {
		for _, j := range jobs {
			if !recordSourceBlob(cache, srcRef, srcNamed, j.info) {
				mount = false
				break
			}
		}
	}

	// Large blobs are bounded by MaxParallel. Small ones (configs, small layers) cost a few
	// round trips each and almost no bandwidth: they have a lane of their own, so that they
	// never wait behind a large transfer. The first failure cancels the rest.
	var large, small []job
	for _, j := range jobs {
		if j.info.Size >= 0 && j.info.Size < smallBlobSize {
			small = append(small, j)
		} else {
			large = append(large, j)
		}
	}
	prog := startProgress(c.opts.ProgressEvery)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lane := func(jobs []job, limit int) (err error) {
		var g errgroup.Group
		g.SetLimit(limit)
		// Whatever happens here, the lane's workers are waited for (they send to prog.ch).
		defer func() {
			if werr := g.Wait(); err == nil {
				err = werr
			}
		}()
		defer func() {
			if err != nil {
				cancel(err)
			}
		}()
		defer crash.Recover(&err, "the scheduler of blob copies")
		for _, j := range jobs {
			if ctx.Err() != nil {
				break
			}
			g.Go(func() (err error) {
				defer func() {
					if err != nil {
						cancel(err)
					}
				}()
				defer crash.Recover(&err, "the worker copying blob "+j.info.Digest.String())
				if ctx.Err() != nil {
					return nil // another blob failed; its error is the one reported
				}
				if blobHook != nil {
					blobHook(j.info)
				}
				copyBlob := copyOneBlob
				if built != nil && !j.isConfig {
					copyBlob = built.copy
				}
				if err := copyBlob(ctx, src, dest, j.info, j.isConfig, cache, mount, prog.ch); err != nil {
					return fmt.Errorf("copying blob %s: %w", j.info.Digest, err)
				}
				return nil
			})
		}
		return nil
	}
	var lanes errgroup.Group
	lanes.Go(func() error { return lane(large, max(int(c.opts.MaxParallel), 1)) })
	lanes.Go(func() error { return lane(small, smallBlobParallel) })
	err := lanes.Wait()
	if perr := prog.stop(); err == nil {
		err = perr
	}
	if cause := context.Cause(ctx); cause != nil {
		// The first failure (or the caller's cancellation), not a later "context canceled".
		return cause
	}
	return err
}

// recordSourceBlob records in cache that info is in the source repository srcNamed, so that
// the destination's TryReusingBlob mounts it from there (same registry, another repository).
//
// containers/image's caches offer a known location as a candidate only when the blob's
// compression is known as well: internal/blobinfocache's CandidateLocations2 drops candidates
// of unknown compression (pkg/blobinfocache/internal/prioritize), and a cache implementing only
// the public types.BlobInfoCache has no candidates at all. The compression is recorded with
// RecordDigestCompressorData, which the memory cache has but whose argument type lives in an
// internal package, hence the call through reflect. The compression recorded is the one the
// media type names; it is only used to pass that filter (TryReusingBlob is called without
// compression requirements, and the manifests are kept byte for byte), and the cache lives
// for this one copy. false means the library no longer has that method: blobs are then
// copied, not mounted.
func recordSourceBlob(cache types.BlobInfoCache, srcRef types.ImageReference, srcNamed reference.Named, info types.BlobInfo) bool {
	m := reflect.ValueOf(cache).MethodByName("RecordDigestCompressorData")
	if !m.IsValid() || m.Type().NumIn() != 2 || m.Type().In(0) != reflect.TypeFor[digest.Digest]() || m.Type().In(1).Kind() != reflect.Struct {
		slog.Warn("containers/image's blob info cache cannot record compression; blobs are copied instead of mounted")
		return false
	}
	data := reflect.New(m.Type().In(1)).Elem()
	base, specific := data.FieldByName("BaseVariantCompressor"), data.FieldByName("SpecificVariantCompressor")
	if !base.IsValid() || base.Kind() != reflect.String || !specific.IsValid() || specific.Kind() != reflect.String {
		slog.Warn("containers/image's blob info cache cannot record compression; blobs are copied instead of mounted")
		return false
	}
	base.SetString(compressorOf(info.MediaType))
	specific.SetString("unknown") // no zstd:chunked or other variant claimed
	m.Call([]reflect.Value{reflect.ValueOf(info.Digest), data})
	cache.RecordKnownLocation(srcRef.Transport(), types.BICTransportScope{Opaque: reference.Domain(srcNamed)},
		info.Digest, types.BICLocationReference{Opaque: srcNamed.Name()})
	return true
}

// compressorOf is the compressor name (as containers/image's blob info caches record it) a
// blob media type says: gzip or zstd layers, else uncompressed (configs, plain tar layers,
// artifacts).
func compressorOf(mediaType string) string {
	switch {
	case strings.Contains(mediaType, "gzip"):
		return compression.Gzip.Name()
	case strings.Contains(mediaType, "zstd"):
		return compression.Zstd.Name()
	}
	return "uncompressed"
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
	if err := putBlob(ctx, dest, body, info, cache, isConfig); err != nil {
		return err
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

// putBlob uploads stream as info, whose digest the registry verifies at commit. A blob the
// destination already has is not read.
func putBlob(ctx context.Context, dest types.ImageDestination, stream io.Reader, info types.BlobInfo, cache types.BlobInfoCache, isConfig bool) error {
	up, err := dest.PutBlob(ctx, stream, info, cache, isConfig)
	if err != nil {
		return err
	}
	if up.Digest != info.Digest {
		return fmt.Errorf("the destination stored it as %s", up.Digest)
	}
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
