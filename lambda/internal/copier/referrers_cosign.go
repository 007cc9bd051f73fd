package copier

// cosign's tags (sha256-<hex>.sig, .att, .sbom) are mutable: cosign adds each new signature or
// attestation as one more layer of the manifest under the tag. A destination can therefore
// hold signatures the source never had (a second signer, a promotion step that signs at the
// destination). Overwriting the tag with the source's would drop them, so:
//   - no tag at the destination: the source's manifest is written as it is;
//   - the same manifest: nothing is written;
//   - .sig and .att (one signature or attestation per layer): the destination's manifest with
//     the source's layers it lacks appended, annotations (signature, certificate, bundle) and
//     media types kept, which is what `cosign sign` does when it signs again;
//   - anything else (.sbom holds one document, not a list): the destination's is left as it
//     is, and the log says so.

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// mergeableCosignSuffixes are the cosign tags whose layers are a list (one entry per layer).
var mergeableCosignSuffixes = []string{".sig", ".att"}

// copyCosignTag brings the cosign tag from the source to the destination without dropping
// anything the destination's tag holds; errReferrerGone when the source has no such tag.
func (r *referrerCopy) copyCosignTag(ctx context.Context, tag, what string) error {
	src, dest := r.src.Tag(tag), r.dest.Tag(tag)
	gone := false
	err := withRetry(ctx, r.job.Retry, "copying "+what, stallGuard(r.hosts, func(ctx context.Context) error {
		srcDesc, err := remote.Get(src, r.options(ctx, r.srcLogin)...)
		if err != nil {
			if isNotFound(err) {
				gone = true
				return nil
			}
			return err
		}
		opts := r.options(ctx, r.destLogin)
		destDesc, err := remote.Get(dest, opts...)
		switch {
		case err != nil && isNotFound(err):
			return writeDescriptor(dest, srcDesc, opts)
		case err != nil:
			return fmt.Errorf("reading %s: %w", dest, err)
		case destDesc.Digest == srcDesc.Digest:
			return nil
		}
		if !mergeable(tag) || !srcDesc.MediaType.IsImage() || !destDesc.MediaType.IsImage() {
			slog.Warn("the destination's cosign tag differs from the source's; the destination's is kept",
				"tag", tag, "source", srcDesc.Digest.String(), "destination", destDesc.Digest.String())
			return nil
		}
		return mergeCosign(dest, srcDesc, destDesc, opts)
	}), r.srcLogin, r.destLogin)
	if gone {
		return errReferrerGone
	}
	if err != nil {
		return describe(fmt.Errorf("CopyReferrers: %w", err), "copying the "+what, "docker://"+dest.String(), "DestCreds")
	}
	return nil
}

func mergeable(tag string) bool {
	for _, s := range mergeableCosignSuffixes {
		if strings.HasSuffix(tag, s) {
			return true
		}
	}
	return false
}

// writeDescriptor writes an image or an index, with its blobs, to dest.
func writeDescriptor(dest name.Reference, desc *remote.Descriptor, opts []remote.Option) error {
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		return remote.WriteIndex(dest, idx, opts...)
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	return remote.Write(dest, img, opts...)
}

// mergeCosign writes to dest the destination's signature manifest with every layer of the
// source's that it lacks appended.
func mergeCosign(dest name.Reference, srcDesc, destDesc *remote.Descriptor, opts []remote.Option) error {
	srcImg, err := srcDesc.Image()
	if err != nil {
		return err
	}
	destImg, err := destDesc.Image()
	if err != nil {
		return err
	}
	have, err := destImg.Manifest()
	if err != nil {
		return fmt.Errorf("reading %s: %w", dest, err)
	}
	held := map[v1.Hash]bool{}
	for _, l := range have.Layers {
		held[l.Digest] = true
	}
	srcManifest, err := srcImg.Manifest()
	if err != nil {
		return err
	}
	var adds []mutate.Addendum
	for _, l := range srcManifest.Layers {
		if held[l.Digest] {
			continue
		}
		held[l.Digest] = true
		layer, err := srcImg.LayerByDigest(l.Digest)
		if err != nil {
			return err
		}
		adds = append(adds, mutate.Addendum{Layer: layer, Annotations: l.Annotations, MediaType: l.MediaType})
	}
	if len(adds) == 0 {
		slog.Info("the destination's cosign tag already holds every signature of the source's", "tag", dest.String())
		return nil
	}
	merged, err := mutate.Append(destImg, adds...)
	if err != nil {
		return err
	}
	slog.Info("cosign tag merged", "tag", dest.String(), "kept", len(have.Layers), "added", len(adds))
	return remote.Write(dest, merged, opts...)
}
