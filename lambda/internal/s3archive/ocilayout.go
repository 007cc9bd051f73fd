package s3archive

// An archive with index.json is an OCI image layout: `docker save` from Docker 25 on (which
// also writes the legacy manifest.json), and the tarballs of skopeo's oci-archive:, buildah,
// ko and jib. Its manifests and blobs are served byte for byte from blobs/<alg>/<hex>, so the
// copy keeps the digest the archive gives the image (and, for an index, its attestations).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
)

// Annotations naming an image in index.json: containerd's (and Docker 25's) full name, and
// the OCI ref name (Docker writes the tag there, skopeo the ref given to oci-archive:).
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = imgspecv1.AnnotationRefName
)

// isLayout reports whether the archive is an OCI image layout.
func (a *archive) isLayout() bool {
	_, err := a.lookup("index.json")
	return err == nil
}

// layoutSource is a types.ImageSource for one image (a manifest or an index) of an OCI image
// layout archive.
type layoutSource struct {
	ref       *Reference
	a         *archive
	top       []byte
	topType   string
	topDigest digest.Digest
	// children are the manifests an index at the top names.
	children map[digest.Digest]imgspecv1.Descriptor
}

// blobPath is where an OCI image layout keeps the blob d.
func (a *archive) blobPath(d digest.Digest) (string, error) {
	// Validate allows only a known algorithm and its hex encoding: the path cannot escape.
	if err := d.Validate(); err != nil {
		return "", corrupt(a.obj, "invalid digest %q: %v", d, err)
	}
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded(), nil
}

// blobMember finds the blob d, whose size a manifest gave as size (-1: unknown).
func (a *archive) blobMember(d digest.Digest, size int64) (*member, string, error) {
	p, err := a.blobPath(d)
	if err != nil {
		return nil, "", err
	}
	m, err := a.lookup(p)
	if err != nil {
		return nil, "", err
	}
	if size >= 0 && m.size != size {
		return nil, "", corrupt(a.obj, "%q is %d bytes, but its descriptor says %d", p, m.size, size)
	}
	return m, p, nil
}

// readBlob reads a small blob (a manifest, an index) whole and checks it against its digest.
func (a *archive) readBlob(ctx context.Context, desc imgspecv1.Descriptor, limit int64) ([]byte, error) {
	m, p, err := a.blobMember(desc.Digest, desc.Size)
	if err != nil {
		return nil, err
	}
	if m.size > limit {
		return nil, corrupt(a.obj, "%q is %d bytes, more than the %d allowed", p, m.size, limit)
	}
	var b []byte
	if m.data != nil {
		b = bytes.Clone(m.data)
	} else if b, err = a.obj.readAt(ctx, m.offset, m.size); err != nil {
		return nil, err
	}
	if got := desc.Digest.Algorithm().FromBytes(b); got != desc.Digest {
		return nil, corrupt(a.obj, "%q does not match its digest (its content has digest %s)", p, got)
	}
	return b, nil
}

func (a *archive) layoutIndex(ctx context.Context) ([]imgspecv1.Descriptor, error) {
	data, err := a.read(ctx, "index.json", maxManifestJSON)
	if err != nil {
		return nil, err
	}
	var idx imgspecv1.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, corrupt(a.obj, "index.json: %v", err)
	}
	if len(idx.Manifests) == 0 {
		return nil, corrupt(a.obj, "index.json lists no images")
	}
	for i, d := range idx.Manifests {
		if err := d.Digest.Validate(); err != nil {
			return nil, corrupt(a.obj, "index.json entry %d has an invalid digest %q: %v", i, d.Digest, err)
		}
	}
	return idx.Manifests, nil
}

// chooseDescriptor applies the rules of chooseItem to index.json: no ref when it names one
// image (one digest, perhaps under several names), "@N" for its N-th entry, "name:tag" for the
// entry so named. A name:tag index.json does not carry is looked up in manifest.json's RepoTags
// (which Docker also writes) through the config digest.
func chooseDescriptor(ctx context.Context, a *archive, descs []imgspecv1.Descriptor, ref string) (imgspecv1.Descriptor, error) {
	switch {
	case ref == "":
		distinct := map[digest.Digest]bool{}
		for _, d := range descs {
			distinct[d.Digest] = true
		}
		if len(distinct) != 1 {
			return imgspecv1.Descriptor{}, corrupt(a.obj, "holds %d images; add :name:tag or :@index to the S3 source to pick one", len(distinct))
		}
		return descs[0], nil
	case strings.HasPrefix(ref, "@"):
		i, err := strconv.Atoi(ref[1:])
		if err != nil || i < 0 || i >= len(descs) {
			return imgspecv1.Descriptor{}, fmt.Errorf("%w %q in %s: it holds images @0 to @%d", errNoSuchRef, ref, a.obj, len(descs)-1)
		}
		return descs[i], nil
	}
	want, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return imgspecv1.Descriptor{}, fmt.Errorf("%w: ref %q of %s is neither name:tag nor @index: %v", errs.ErrInvalidProperty, ref, a.obj, err)
	}
	want = reference.TagNameOnly(want)
	for _, d := range descs {
		for _, k := range []string{annotationImageName, annotationRefName} {
			n := d.Annotations[k]
			if n == "" {
				continue
			}
			if n == ref {
				return d, nil
			}
			// A bare tag ("latest", as Docker writes the OCI ref name) is only matched exactly.
			if got, err := reference.ParseNormalizedNamed(n); err == nil && strings.ContainsAny(n, ":/") &&
				reference.TagNameOnly(got).String() == want.String() {
				return d, nil
			}
		}
	}
	if _, err := a.lookup("manifest.json"); err == nil {
		items, err := a.manifestItems(ctx)
		if err != nil {
			return imgspecv1.Descriptor{}, err
		}
		if item, err := chooseItem(a, items, ref); err == nil {
			if d, ok, err := descriptorWithConfig(ctx, a, descs, item.Config); err != nil || ok {
				return d, err
			}
		}
	}
	return imgspecv1.Descriptor{}, fmt.Errorf("%w %q in %s (check the names in its index.json and RepoTags in its manifest.json)", errNoSuchRef, ref, a.obj)
}

// descriptorWithConfig finds the index.json entry whose image (or one of whose images) has the
// config that manifest.json names.
func descriptorWithConfig(ctx context.Context, a *archive, descs []imgspecv1.Descriptor, configPath string) (imgspecv1.Descriptor, bool, error) {
	config, err := a.read(ctx, configPath, maxConfig)
	if err != nil {
		return imgspecv1.Descriptor{}, false, err
	}
	want := digest.FromBytes(config)
	hasConfig := func(desc imgspecv1.Descriptor) (bool, error) {
		b, err := a.readBlob(ctx, desc, maxManifestJSON)
		if err != nil {
			return false, err
		}
		mt := cmpMIME(desc.MediaType, b)
		if manifest.MIMETypeIsMultiImage(mt) {
			return false, nil
		}
		m, err := manifest.FromBlob(b, mt)
		if err != nil {
			return false, corrupt(a.obj, "manifest %s: %v", desc.Digest, err)
		}
		return m.ConfigInfo().Digest == want, nil
	}
	for _, d := range descs {
		b, err := a.readBlob(ctx, d, maxManifestJSON)
		if err != nil {
			return imgspecv1.Descriptor{}, false, err
		}
		kids := []imgspecv1.Descriptor{d}
		if mt := cmpMIME(d.MediaType, b); manifest.MIMETypeIsMultiImage(mt) {
			var idx imgspecv1.Index
			if err := json.Unmarshal(b, &idx); err != nil {
				return imgspecv1.Descriptor{}, false, corrupt(a.obj, "index %s: %v", d.Digest, err)
			}
			kids = idx.Manifests
		}
		for _, k := range kids {
			ok, err := hasConfig(k)
			if err != nil {
				return imgspecv1.Descriptor{}, false, err
			}
			if ok {
				return d, true, nil
			}
		}
	}
	return imgspecv1.Descriptor{}, false, nil
}

// cmpMIME is the descriptor's media type, or the one the manifest says (OCI allows a
// descriptor without one).
func cmpMIME(mt string, b []byte) string {
	if mt != "" {
		return mt
	}
	return manifest.GuessMIMEType(b)
}

func newLayoutSource(ctx context.Context, r *Reference, a *archive, ref string) (*layoutSource, error) {
	descs, err := a.layoutIndex(ctx)
	if err != nil {
		return nil, err
	}
	desc, err := chooseDescriptor(ctx, a, descs, ref)
	if err != nil {
		return nil, err
	}
	top, err := a.readBlob(ctx, desc, maxManifestJSON)
	if err != nil {
		return nil, err
	}
	s := &layoutSource{ref: r, a: a, top: top, topType: cmpMIME(desc.MediaType, top), topDigest: desc.Digest,
		children: map[digest.Digest]imgspecv1.Descriptor{}}
	var own struct {
		MediaType string `json:"mediaType"`
	}
	_ = json.Unmarshal(top, &own)
	if g := own.MediaType; desc.MediaType != "" && g != "" && g != desc.MediaType {
		// A manifest whose own mediaType contradicts its descriptor would be pushed under the
		// wrong type; registries refuse that, so say so here.
		return nil, corrupt(a.obj, "manifest %s is %s, but index.json says %s", desc.Digest, g, desc.MediaType)
	}
	if manifest.MIMETypeIsMultiImage(s.topType) {
		var idx imgspecv1.Index
		if err := json.Unmarshal(top, &idx); err != nil {
			return nil, corrupt(a.obj, "index %s: %v", desc.Digest, err)
		}
		for _, k := range idx.Manifests {
			if err := k.Digest.Validate(); err != nil {
				return nil, corrupt(a.obj, "index %s names an invalid digest %q: %v", desc.Digest, k.Digest, err)
			}
			s.children[k.Digest] = k
		}
	} else if _, err := manifest.FromBlob(top, s.topType); err != nil {
		return nil, corrupt(a.obj, "manifest %s: %v", desc.Digest, err)
	}
	return s, nil
}

func (s *layoutSource) Reference() types.ImageReference { return s.ref }
func (s *layoutSource) Close() error                    { return nil }

func (s *layoutSource) GetManifest(ctx context.Context, instanceDigest *digest.Digest) ([]byte, string, error) {
	if instanceDigest == nil || *instanceDigest == s.topDigest {
		return slices.Clone(s.top), s.topType, nil
	}
	desc, ok := s.children[*instanceDigest]
	if !ok {
		return nil, "", fmt.Errorf("%w: manifest %s is not part of the image in %s", errs.ErrNotFound, *instanceDigest, s.a.obj)
	}
	b, err := s.a.readBlob(ctx, desc, maxManifestJSON)
	if err != nil {
		return nil, "", err
	}
	return b, cmpMIME(desc.MediaType, b), nil
}

// HasThreadSafeGetBlob lets containers/image read blobs in parallel; each GetBlob is an
// independent ranged GET.
func (s *layoutSource) HasThreadSafeGetBlob() bool { return true }

// GetBlob serves a blob as stored (compressed layers are never recompressed here), checking
// it against its digest as it streams: a corrupt blob fails the read at its end, before the
// registry is asked to commit it.
func (s *layoutSource) GetBlob(ctx context.Context, info types.BlobInfo, _ types.BlobInfoCache) (io.ReadCloser, int64, error) {
	size := info.Size
	if size < 0 {
		size = -1
	}
	m, p, err := s.a.blobMember(info.Digest, size)
	if err != nil {
		return nil, 0, err
	}
	return &verifyingReader{rc: s.a.open(ctx, m), v: info.Digest.Verifier(), want: info.Digest, size: m.size, obj: s.a.obj, name: p}, m.size, nil
}

func (s *layoutSource) GetSignatures(context.Context, *digest.Digest) ([][]byte, error) {
	return nil, nil
}

func (s *layoutSource) LayerInfosForCopy(context.Context, *digest.Digest) ([]types.BlobInfo, error) {
	return nil, nil
}

// verifyingReader passes a blob on and fails, instead of reporting its end, when the bytes
// read do not have the blob's digest and size.
type verifyingReader struct {
	rc      io.ReadCloser
	v       digest.Verifier
	want    digest.Digest
	n, size int64
	obj     *object
	name    string
}

func (r *verifyingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	_, _ = r.v.Write(p[:n])
	r.n += int64(n)
	if r.n > r.size {
		return n, corrupt(r.obj, "%q is longer than its %d bytes", r.name, r.size)
	}
	if err == io.EOF && (r.n != r.size || !r.v.Verified()) {
		return n, corrupt(r.obj, "%q does not match its digest %s: the archive is damaged", r.name, r.want)
	}
	return n, err
}

func (r *verifyingReader) Close() error { return r.rc.Close() }
