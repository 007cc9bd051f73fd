package copier

// Direct copies: manifests and blobs kept byte for byte, from a registry or from an S3
// archive in OCI layout (Docker 25+ docker save, oci-archive).
//
// That is the deploy-time case (an image built and pushed by CDK, or a public image, copied
// into ECR; or an image saved by Docker 25 or later, from S3), and containers/image's
// copy.Image pays there for being general:
//   - it hashes every blob on the way (sha256 over all bytes: 40% of the copier's CPU in
//     bench/RESULTS.md), although the destination registry verifies each blob's digest when
//     the upload is committed (PUT ?digest=, which the distribution spec requires), so a
//     corrupt or truncated source blob still fails the copy, with DIGEST_INVALID;
//   - it uploads the config only after every layer, then the manifest;
//   - it checks every blob twice at the destination (a HEAD before the copy, another inside
//     PutBlob);
//   - it copies the children of an index one after another.
//
// copyDirect drives the same transports (containers/image's docker ImageSource, or the
// s3archive one, and ImageDestination, so auth, proxies, TLS, resumed reads, 429 handling
// and the registry quirks they know stay the same) but schedules the work itself: every blob of every selected
// manifest, config included, is copied at once (MaxParallel large blobs, largest first, and up
// to 16 small ones besides: those are latency-bound), each
// streamed from the source GET straight into the destination upload (POST, one PATCH with
// the whole blob, PUT; never chunked, which ECR mishandles). When source and destination are
// the same registry, a cross-repository mount is tried first. Manifests follow once their
// blobs are in place; an index last.
//
// An OCI-layout archive's blobs are checked against their digests as they are read
// (s3archive's verifyingReader), so a corrupt member fails with its name before the
// registry is asked to commit it; copy.Image would hash each of them a second time.
//
// Docker save archives from before Docker 25, whose manifest is built and whose layers are
// compressed or stored on the way, go through the built engine (engine_built.go). Anything
// else (schema 1, foreign or encrypted layers, manifest types the destination does not take,
// a destination given by digest) goes through copy.Image.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"
)

// directImage is one image manifest to copy and the blobs it needs.
type directImage struct {
	digest digest.Digest
	bytes  []byte
	blobs  []types.BlobInfo
	config digest.Digest
}

// imageManifestTypes are the single-image manifest types copied directly.
var imageManifestTypes = []string{manifest.DockerV2Schema2MediaType, imgspecv1.MediaTypeImageManifest}

// copyDirect runs one attempt of the direct engine for ch (see chooseEngine): the blobs,
// then the image manifests, then the final manifest (none for a filtered index, which
// copy.Image writes). It returns the digest of the final manifest ("" without one).
func (c *Copier) copyDirect(ctx context.Context, ch choice, srcRef, destRef types.ImageReference) (digest.Digest, error) {
	src, dest := ch.src, ch.dest
	if err := c.copyBlobs(ctx, src, dest, srcRef, destRef, ch.images, nil); err != nil {
		return "", err
	}
	// Children of an index go by digest; a single image (or the child selected out of an
	// index) goes to the destination reference.
	multi := ch.final == nil || manifest.MIMETypeIsMultiImage(ch.finalType)
	if multi {
		for _, img := range ch.images {
			if err := dest.PutManifest(ctx, img.bytes, &img.digest); err != nil {
				return "", err
			}
		}
	}
	if ch.final == nil {
		return "", nil
	}
	if err := dest.PutManifest(ctx, ch.final, nil); err != nil {
		return "", err
	}
	if err := dest.Commit(ctx, image.UnparsedInstance(src, nil)); err != nil {
		return "", err
	}
	return manifest.Digest(ch.final)
}

// checkPinned fails when the source is given by digest and its top manifest has another one
// (a registry, or something in between, serving other bytes for that digest): the copy would
// push, and report, an image other than the one pinned.
func checkPinned(srcRef types.ImageReference, top []byte) error {
	named := srcRef.DockerReference()
	if !isRegistry(srcRef) || named == nil {
		return nil
	}
	pinned, ok := named.(reference.Digested)
	if !ok {
		return nil
	}
	if err := checkManifestDigest(top, pinned.Digest()); err != nil {
		return fmt.Errorf("the source: %w", err)
	}
	return nil
}

// parseDirectImage lists the blobs of an image manifest; declined says why the manifest is
// not one copyDirect handles ("" when it is).
func parseDirectImage(d digest.Digest, b []byte, mime string) (img directImage, declined string) {
	if !slices.Contains(imageManifestTypes, mime) {
		return directImage{}, fmt.Sprintf("manifest %s is %s, not a Docker schema 2 or OCI image manifest", d, mime)
	}
	m, err := manifest.FromBlob(b, mime)
	if err != nil {
		return directImage{}, fmt.Sprintf("manifest %s does not parse: %v", d, err)
	}
	cfg := m.ConfigInfo()
	if cfg.Digest == "" {
		return directImage{}, fmt.Sprintf("manifest %s has no config", d)
	}
	img = directImage{digest: d, bytes: b, config: cfg.Digest, blobs: []types.BlobInfo{{Digest: cfg.Digest, Size: cfg.Size, MediaType: cfg.MediaType}}}
	for _, l := range m.LayerInfos() {
		// Foreign (non-distributable) layers stay where they are and encrypted ones need
		// keys: copy.Image knows what to do with both.
		if len(l.URLs) > 0 || strings.HasSuffix(l.MediaType, "+encrypted") || l.Digest == "" {
			return directImage{}, fmt.Sprintf("manifest %s has a foreign, encrypted or digest-less layer", d)
		}
		img.blobs = append(img.blobs, l.BlobInfo)
	}
	return img, ""
}
