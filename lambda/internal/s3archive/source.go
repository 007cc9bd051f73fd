package s3archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/crash"
	"github.com/cdk-ecr-deployment/handler/internal/errs"
)

type layer struct {
	m         *member
	mediaType string
}

// source is a types.ImageSource for one image of an archive.
type source struct {
	ref          *Reference
	a            *archive
	manifest     []byte
	manifestType string
	config       []byte
	configDigest digest.Digest
	layers       map[digest.Digest]layer
}

type compression int

const (
	uncompressed compression = iota
	gzipped
	zstded
)

func detect(magic []byte) compression {
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzipped
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return zstded
	}
	return uncompressed
}

func chooseItem(a *archive, items []manifestItem, ref string) (*manifestItem, error) {
	switch {
	case ref == "":
		if len(items) != 1 {
			return nil, corrupt(a.obj, "holds %d images; add :name:tag or :@index to the S3 source to pick one", len(items))
		}
		return &items[0], nil
	case strings.HasPrefix(ref, "@"):
		i, err := strconv.Atoi(ref[1:])
		if err != nil || i < 0 || i >= len(items) {
			return nil, fmt.Errorf("%w %q in %s: it holds images @0 to @%d", errNoSuchRef, ref, a.obj, len(items)-1)
		}
		return &items[i], nil
	}
	want, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: ref %q of %s is neither name:tag nor @index: %v", errs.ErrInvalidProperty, ref, a.obj, err)
	}
	want = reference.TagNameOnly(want)
	for i := range items {
		for _, t := range items[i].RepoTags {
			got, err := reference.ParseNormalizedNamed(t)
			if err == nil && reference.TagNameOnly(got).String() == want.String() {
				return &items[i], nil
			}
		}
	}
	return nil, fmt.Errorf("%w %q in %s (check RepoTags in its manifest.json)", errNoSuchRef, ref, a.obj)
}

// hashWorkers bounds the layers sniffed and hashed at once. Hashing is CPU-bound, and Lambda
// gives a 512 MB function about 0.29 vCPU: more streams than this only add S3 connections and
// buffers, while a few keep one S3 stream's latency from idling the CPU.
const hashWorkers = 4

// layerHook, when set (only tests set it), is called by each layer's sniffing and hashing
// goroutine first.
var layerHook func(name string)

func newSource(ctx context.Context, r *Reference, a *archive, ref string) (*source, error) {
	items, err := a.manifestItems(ctx)
	if err != nil {
		return nil, err
	}
	item, err := chooseItem(a, items, ref)
	if err != nil {
		return nil, err
	}
	config, err := a.read(ctx, item.Config, maxConfig)
	if err != nil {
		return nil, err
	}
	var parsed struct {
		RootFS *struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(config, &parsed); err != nil {
		return nil, corrupt(a.obj, "config %q: %v", item.Config, err)
	}
	if parsed.RootFS == nil {
		return nil, corrupt(a.obj, "config %q has no rootfs", item.Config)
	}
	if len(parsed.RootFS.DiffIDs) != len(item.Layers) {
		return nil, corrupt(a.obj, "manifest.json lists %d layers, the config %d", len(item.Layers), len(parsed.RootFS.DiffIDs))
	}

	members := make([]*member, len(item.Layers))
	comps := make([]compression, len(item.Layers))
	digests := make([]digest.Digest, len(item.Layers))
	for i, p := range item.Layers {
		if members[i], err = a.lookup(p); err != nil {
			return nil, err
		}
	}
	// Layers whose first bytes were not seen while indexing are sniffed
	// (and, when compressed under a legacy name, hashed) concurrently by a
	// pool of at most hashWorkers goroutines.
	errc := make([]error, len(members))
	do := func(i int) {
		defer crash.Recover(&errc[i], "reading layer "+item.Layers[i]+" of the archive")
		if layerHook != nil {
			layerHook(item.Layers[i])
		}
		magic, err := a.sniff(ctx, members[i])
		if err != nil {
			errc[i] = err
			return
		}
		comps[i] = detect(magic)
		if comps[i] == uncompressed {
			// docker save stores layers uncompressed, so the file is
			// exactly the tar the DiffID names.
			digests[i] = parsed.RootFS.DiffIDs[i]
			return
		}
		digests[i], errc[i] = a.blobDigest(ctx, item.Layers[i], members[i])
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(hashWorkers, len(members)) {
		wg.Go(func() {
			for i := range next {
				do(i)
			}
		})
	}
	for i := range members {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errc...); err != nil {
		return nil, err
	}

	s := &source{ref: r, a: a, config: config, configDigest: digest.FromBytes(config), layers: map[digest.Digest]layer{}}
	oci := false
	for _, c := range comps {
		// Docker schema 2 has no zstd layer type.
		oci = oci || c == zstded
	}
	var descs []manifest.Schema2Descriptor
	var ociDescs []imgspecv1.Descriptor
	for i, m := range members {
		mt := layerType(comps[i], oci)
		s.layers[digests[i]] = layer{m: m, mediaType: mt}
		descs = append(descs, manifest.Schema2Descriptor{MediaType: mt, Size: m.size, Digest: digests[i]})
		ociDescs = append(ociDescs, imgspecv1.Descriptor{MediaType: mt, Size: m.size, Digest: digests[i]})
	}
	if oci {
		s.manifestType = imgspecv1.MediaTypeImageManifest
		m := manifest.OCI1FromComponents(imgspecv1.Descriptor{
			MediaType: imgspecv1.MediaTypeImageConfig, Size: int64(len(config)), Digest: s.configDigest,
		}, ociDescs)
		s.manifest, err = m.Serialize()
	} else {
		s.manifestType = manifest.DockerV2Schema2MediaType
		m := manifest.Schema2FromComponents(manifest.Schema2Descriptor{
			MediaType: manifest.DockerV2Schema2ConfigMediaType, Size: int64(len(config)), Digest: s.configDigest,
		}, descs)
		s.manifest, err = m.Serialize()
	}
	if err != nil {
		return nil, fmt.Errorf("building a manifest for %s: %w", a.obj, err)
	}
	return s, nil
}

func layerType(c compression, oci bool) string {
	if oci {
		switch c {
		case gzipped:
			return imgspecv1.MediaTypeImageLayerGzip
		case zstded:
			return imgspecv1.MediaTypeImageLayerZstd
		}
		return imgspecv1.MediaTypeImageLayer
	}
	// Uncompressed docker save layers are described with the gzip type, as
	// docker itself does; the copy detects the real compression from the
	// stream and compresses for the registry.
	return manifest.DockerV2Schema2LayerMediaType
}

// blobDigest is the digest of a compressed layer file. Newer docker save
// archives name blobs after their digest (blobs/sha256/<hex>), which makes
// this free; otherwise the file is hashed with one streaming read.
func (a *archive) blobDigest(ctx context.Context, name string, m *member) (digest.Digest, error) {
	resolved := name
	if _, err := a.lookup(name); err == nil {
		for range 16 {
			t, ok := a.links[cleanName(resolved)]
			if !ok {
				break
			}
			resolved = t
		}
	}
	if hexPart, ok := strings.CutPrefix(cleanName(resolved), "blobs/sha256/"); ok && len(hexPart) == 64 {
		if _, err := hex.DecodeString(hexPart); err == nil {
			return digest.NewDigestFromEncoded(digest.SHA256, hexPart), nil
		}
	}
	h := sha256.New()
	rc := a.open(ctx, m)
	defer rc.Close()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("hashing layer %q of %s: %w", name, a.obj, err)
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

func (s *source) Reference() types.ImageReference { return s.ref }
func (s *source) Close() error                    { return nil }

func (s *source) GetManifest(_ context.Context, instanceDigest *digest.Digest) ([]byte, string, error) {
	if instanceDigest != nil {
		return nil, "", errors.New("s3 archives hold no manifest lists")
	}
	return s.manifest, s.manifestType, nil
}

// HasThreadSafeGetBlob lets containers/image read layers in parallel; each
// GetBlob is an independent ranged GET.
func (s *source) HasThreadSafeGetBlob() bool { return true }

func (s *source) GetBlob(ctx context.Context, info types.BlobInfo, _ types.BlobInfoCache) (io.ReadCloser, int64, error) {
	if info.Digest == s.configDigest {
		return io.NopCloser(bytes.NewReader(s.config)), int64(len(s.config)), nil
	}
	l, ok := s.layers[info.Digest]
	if !ok {
		return nil, 0, fmt.Errorf("blob %s is not in %s", info.Digest, s.a.obj)
	}
	return s.a.open(ctx, l.m), l.m.size, nil
}

func (s *source) GetSignatures(context.Context, *digest.Digest) ([][]byte, error) { return nil, nil }

func (s *source) LayerInfosForCopy(context.Context, *digest.Digest) ([]types.BlobInfo, error) {
	return nil, nil
}
