package copier

// The built engine: docker save archives from before Docker 25, from S3.
//
// Such an archive holds a config and one layer.tar per layer, uncompressed; s3archive describes
// it with a manifest it builds, naming each layer by its diff_id. copy.Image would hash every
// layer twice on the way (the diff_id it is named by, then the gzip stream's digest the
// registry needs before it commits the upload) and gzip all of it. Held to Lambda's 0.29 vCPU
// those passes are the copy: bench/ANALYSIS.md measured 0.37 CPU-s of sha256 per 263 MB, as
// much as a whole registry copy.
//
// copyBuilt schedules the blobs as copyDirect does (copyBlobs), and decides per layer:
//   - a layer file stored compressed (hand-made archives) goes as stored, decompressed on the
//     way and checked against its diff_id before the upload is committed (diffid.go);
//   - a layer that gzip would not shrink (its sample saves less than storeAbove) goes as the
//     plain tar it is, named by its diff_id, in an OCI manifest (see manifest). The registry
//     verifies the digest when it commits the upload, which is the diff_id check, so the
//     copier hashes nothing; a refusal is told apart from a corrupt archive by hashing the
//     layer then (verifyStored);
//   - any other layer is gzipped at gzipLevel on the way, its diff_id checked as it is read;
//     a mismatch fails the upload before it is committed.
//
// Then the manifest is rebuilt around what was written, its config kept byte for byte.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cdk-ecr-deployment/handler/internal/crash"
	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/klauspost/compress/flate"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/types"
)

const (
	// sampleSize is how much of a plain layer is compressed to decide whether the whole is
	// worth compressing: the whole layer when it is smaller. A layer whose first bytes do
	// not compress but whose rest would is stored whole; docker's tars list files in path
	// order, so a large incompressible file at the start (a model, an archive, media) is
	// what makes that happen, and it is usually most of the layer.
	sampleSize = 4 << 20
	// storeAbove: a layer whose sample gzips to more than this share of its size is stored
	// uncompressed. Compressing it would save under 5 % of its bytes, for a deflate pass and
	// two sha256 passes in the copier and a gunzip at every pull.
	storeAbove = 0.95
)

// storeUncompressed reports whether sample (the start of a plain layer) is not worth gzipping,
// compressed at gzipLevel with the deflate pgzip uses.
func storeUncompressed(sample []byte) bool {
	if len(sample) == 0 {
		return false
	}
	var n countingWriter
	w, err := flate.NewWriter(&n, gzipLevel)
	if err != nil {
		return false
	}
	_, _ = w.Write(sample)
	_ = w.Close()
	return float64(n) > storeAbove*float64(len(sample))
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

// form is how a layer was written.
type form int

const (
	formPlain form = iota // the uncompressed tar
	formGzip
	formZstd
)

// writtenLayer is a layer as the destination holds it.
type writtenLayer struct {
	digest digest.Digest
	size   int64
	form   form
}

// builtLayers is the built engine's part of copyBlobs: how each layer is written, and what
// it became.
type builtLayers struct {
	srcRef types.ImageReference
	// mayStore: layers may be stored uncompressed (the destination takes OCI manifests).
	mayStore bool
	// diffIDs are the config's diff_ids by the digest the source's manifest names.
	diffIDs map[digest.Digest]digest.Digest
	mu      sync.Mutex
	written map[digest.Digest]writtenLayer // by the digest the source's manifest names
}

// copyBuilt runs one attempt of the built engine for ch (one image) and returns the digest of
// the manifest it wrote.
func (c *Copier) copyBuilt(ctx context.Context, ch choice, srcRef, destRef types.ImageReference) (digest.Digest, error) {
	img := ch.images[0]
	config, err := readConfig(ctx, ch.src, img.config)
	if err != nil {
		return "", err
	}
	diffIDs, err := layerDiffIDs(img.bytes, ch.finalType, config)
	if err != nil {
		return "", fmt.Errorf("in %s: %w", display(srcRef), err)
	}
	layers := &builtLayers{srcRef: srcRef, mayStore: ch.storeLayers, diffIDs: diffIDs, written: map[digest.Digest]writtenLayer{}}
	if err := c.copyBlobs(ctx, ch.src, ch.dest, srcRef, destRef, ch.images, layers); err != nil {
		return "", err
	}
	final, err := layers.manifest(img.bytes, ch.finalType)
	if err != nil {
		return "", err
	}
	if err := ch.dest.PutManifest(ctx, final, nil); err != nil {
		return "", err
	}
	if err := ch.dest.Commit(ctx, image.UnparsedInstance(ch.src, nil)); err != nil {
		return "", err
	}
	return manifest.Digest(final)
}

// manifest is the source's manifest src with every layer as written, and the config kept.
// Docker schema 2 stays Docker schema 2 when every layer is gzipped, as before layers could be
// stored. A layer stored uncompressed makes it an OCI image manifest: Docker schema 2 has no
// uncompressed layer type in its spec (containers/image and containerd know
// application/vnd.docker.image.rootfs.diff.tar, but Quay, for one, refuses manifests that use
// it; containers/image issue 1270), while OCI's application/vnd.oci.image.layer.v1.tar is
// standard. The config's bytes, and so the image ID, are the same in either.
func (b *builtLayers) manifest(src []byte, mime string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, err := manifest.FromBlob(src, mime)
	if err != nil {
		return nil, err
	}
	var layers []writtenLayer
	oci := mime == imgspecv1.MediaTypeImageManifest
	for _, l := range m.LayerInfos() {
		w, ok := b.written[l.Digest]
		if !ok {
			return nil, fmt.Errorf("layer %s was not written", l.Digest)
		}
		layers = append(layers, w)
		oci = oci || w.form != formGzip
	}
	cfg := m.ConfigInfo()
	if !oci {
		s2, err := manifest.Schema2FromManifest(src)
		if err != nil {
			return nil, err
		}
		for i, w := range layers {
			l := &s2.LayersDescriptors[i]
			l.Digest, l.Size, l.MediaType = w.digest, w.size, manifest.DockerV2Schema2LayerMediaType
		}
		return s2.Serialize()
	}
	descs := make([]imgspecv1.Descriptor, len(layers))
	for i, w := range layers {
		descs[i] = imgspecv1.Descriptor{MediaType: ociLayerType(w.form), Digest: w.digest, Size: w.size}
	}
	return manifest.OCI1FromComponents(imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: cfg.Digest, Size: cfg.Size}, descs).Serialize()
}

func ociLayerType(f form) string {
	switch f {
	case formGzip:
		return imgspecv1.MediaTypeImageLayerGzip
	case formZstd:
		return imgspecv1.MediaTypeImageLayerZstd
	}
	return imgspecv1.MediaTypeImageLayer
}

// copy writes one layer (named info.Digest in the source's manifest) to dest.
// It has copyOneBlob's signature; an archive has no name to mount from, and isConfig is false.
func (b *builtLayers) copy(ctx context.Context, src types.ImageSource, dest types.ImageDestination, info types.BlobInfo, _ bool,
	cache types.BlobInfoCache, _ bool, events chan<- types.ProgressProperties) error {
	body := &lazyBlob{ctx: ctx, src: src, info: info, cache: cache, events: events}
	defer body.Close()
	algo, decompress, stream, err := compression.DetectCompressionFormat(body)
	if err != nil {
		return err
	}
	out := writtenLayer{digest: info.Digest, size: info.Size}
	switch {
	case decompress != nil:
		// Stored compressed in the archive: s3archive named it by its own bytes.
		out.form = formGzip
		if algo.Name() == compression.Zstd.Name() {
			out.form = formZstd
		}
		err = b.putCompressed(ctx, dest, stream, decompress, info, cache)
	default:
		sample := make([]byte, sampleSize)
		if info.Size >= 0 && info.Size < sampleSize {
			sample = make([]byte, info.Size) // small layers: no 4 MiB buffer each
		}
		n, rerr := io.ReadFull(stream, sample)
		if rerr != nil && rerr != io.EOF && !errors.Is(rerr, io.ErrUnexpectedEOF) {
			return rerr
		}
		sample = sample[:n]
		stream = io.MultiReader(bytes.NewReader(sample), stream)
		if b.mayStore && storeUncompressed(sample) {
			out.form = formPlain
			if err = putBlob(ctx, dest, stream, info, cache, false); err != nil {
				err = b.verifyStored(ctx, src, info, cache, err)
			}
		} else {
			out.form = formGzip
			out.digest, out.size, err = b.putGzipped(ctx, dest, stream, info, cache)
		}
	}
	if err != nil {
		return err
	}
	// Every path checks the content by its digest (the registry at commit, or the verifier);
	// a stored blob the destination already had is not read to its end.
	if info.Size >= 0 && body.n < info.Size {
		events <- types.ProgressProperties{Event: types.ProgressEventSkipped}
	} else {
		events <- types.ProgressProperties{Event: types.ProgressEventDone, OffsetUpdate: uint64(body.n - body.reported)}
	}
	b.mu.Lock()
	b.written[info.Digest] = out
	b.mu.Unlock()
	return nil
}

// putCompressed uploads a layer stored compressed as it is, checking its decompressed tar
// against the config's diff_id before the upload is committed.
func (b *builtLayers) putCompressed(ctx context.Context, dest types.ImageDestination, stream io.Reader,
	decompress compression.DecompressorFunc, info types.BlobInfo, cache types.BlobInfoCache) error {
	diffID, ok := b.diffIDs[info.Digest]
	if !ok {
		return fmt.Errorf("layer %s has no diff_id in the config", info.Digest)
	}
	checked := newDiffIDReader(stream, decompress, diffID, func(why string) error { return b.corruptCompressed(diffID, why) })
	err := putBlob(ctx, dest, checked, info, cache, false)
	_ = checked.Close()
	if checked.failed != nil {
		return checked.failed
	}
	return err
}

// putGzipped gzips the plain layer stream at gzipLevel into the destination, checking as it
// reads that the stream is the tar info's diff_id names; it returns the blob written.
func (b *builtLayers) putGzipped(ctx context.Context, dest types.ImageDestination, stream io.Reader, info types.BlobInfo,
	cache types.BlobInfoCache) (digest.Digest, int64, error) {
	pr, pw := io.Pipe()
	var corrupt error // set before pw is closed with it
	done := make(chan struct{})
	go func() {
		var err error
		defer close(done)
		// nil: the upload reads EOF and commits; else it fails before committing.
		defer func() { pw.CloseWithError(err) }()
		defer crash.Recover(&err, "gzipping layer "+info.Digest.String())
		level := gzipLevel
		zw, err := compression.CompressStream(pw, compression.Gzip, &level)
		if err != nil {
			return
		}
		verifier := info.Digest.Verifier()
		_, err = io.Copy(zw, io.TeeReader(stream, verifier))
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		if err == nil && !verifier.Verified() {
			corrupt = b.corrupt(info)
			err = corrupt
		}
	}()
	up, err := dest.PutBlob(ctx, pr, types.BlobInfo{Digest: "", Size: -1, MediaType: manifest.DockerV2Schema2LayerMediaType}, cache, false)
	_ = pr.CloseWithError(errors.New("the upload ended"))
	<-done
	if corrupt != nil {
		return "", 0, corrupt
	}
	if err != nil {
		return "", 0, err
	}
	return up.Digest, up.Size, nil
}

// verifyStored tells why the upload of a layer stored uncompressed failed (err): a layer file
// that is not the tar its diff_id names (the registry refuses its digest at commit) is a
// corrupt archive, which no retry mends; anything else is err. The layer is read and hashed
// once more only on this path.
func (b *builtLayers) verifyStored(ctx context.Context, src types.ImageSource, info types.BlobInfo, cache types.BlobInfoCache, err error) error {
	if ctx.Err() != nil {
		return err
	}
	rc, _, gerr := src.GetBlob(ctx, info, cache)
	if gerr != nil {
		return err
	}
	defer rc.Close()
	verifier := info.Digest.Verifier()
	if _, cerr := io.Copy(verifier, rc); cerr != nil {
		return err
	}
	if !verifier.Verified() {
		return b.corrupt(info)
	}
	return err
}

func (b *builtLayers) corrupt(info types.BlobInfo) error {
	return fmt.Errorf("%w: in %s, the layer whose diff_id is %s has other contents (its bytes hash to something else): save the image again",
		errs.ErrCorruptArchive, display(b.srcRef), info.Digest)
}

func (b *builtLayers) corruptCompressed(diffID digest.Digest, why string) error {
	return fmt.Errorf("%w: in %s, the compressed layer whose diff_id is %s is damaged (%s): save the image again",
		errs.ErrCorruptArchive, display(b.srcRef), diffID, why)
}

// readConfig reads the config blob of a built image (s3archive holds it in memory).
func readConfig(ctx context.Context, src types.ImageSource, d digest.Digest) ([]byte, error) {
	rc, _, err := src.GetBlob(ctx, types.BlobInfo{Digest: d, Size: -1}, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the config %s: %w", d, err)
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
