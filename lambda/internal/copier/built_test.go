package copier

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// A classic archive whose layers gzip differently: text layers reach the registry gzipped,
// the random ones as the plain tars they are, named by their diff_ids, in an OCI manifest. The real registry verifies
// each digest at commit, and go-containerregistry (an independent client, which tells a
// layer's compression from its bytes) reads the image back: every layer gives its diff_id.
func TestCopyArchiveStoresWhatGzipWouldNotShrink(t *testing.T) {
	ctx := context.Background()
	tarball, configs, err := testenv.DockerSave(testenv.SaveImage{
		RepoTags: []string{"app:latest"}, LayerSizes: []int{3 << 20, 5 << 20, 200 << 10, 64 << 10}, Layout: "legacy", Seed: 21,
		Text: true, RandomLayers: []int{1, 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := newDistRegistry(t)
	c := reg.copier(t)
	c.opts.S3 = putArchives(t, "mixed", map[string][]byte{"img.tar": tarball})
	job := Job{Src: s3Ref(t, c, "s3://mixed/img.tar"), Dest: imageRef(t, "docker://"+reg.host+"/mixed/app:v1"), Retry: testRetry()}
	res, err := c.Copy(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if reg.digestOfTag(t, "mixed/app:v1") != res.Digest {
		t.Fatalf("the tag is not at %s", res.Digest)
	}
	img, err := remoteImage(reg, t, "mixed/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	checkDiffIDs(t, img)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	// A stored layer needs OCI's uncompressed layer type: the manifest is an OCI one, around the
	// archive's config bytes.
	if string(m.MediaType) != imgspecv1.MediaTypeImageManifest || m.Config.Digest.String() != configs[0] || string(m.Config.MediaType) != imgspecv1.MediaTypeImageConfig {
		t.Errorf("manifest %s with config %s (%s), want an OCI manifest with the archive's config %s", m.MediaType, m.Config.Digest, m.Config.MediaType, configs[0])
	}
	layers := layerTars(t, tarball)
	if len(m.Layers) != len(layers) {
		t.Fatalf("%d layers at the destination, %d in the archive", len(m.Layers), len(layers))
	}
	for i, l := range layers {
		diffID := digest.FromBytes(l).String()
		got := m.Layers[i]
		switch i {
		case 1, 3: // random: stored
			if string(got.MediaType) != imgspecv1.MediaTypeImageLayer || got.Digest.String() != diffID || got.Size != int64(len(l)) {
				t.Errorf("random layer %d: %s %s %d bytes, want the plain tar %s (%d bytes)", i, got.MediaType, got.Digest, got.Size, diffID, len(l))
			}
		default: // text: gzipped at gzipLevel
			if string(got.MediaType) != imgspecv1.MediaTypeImageLayerGzip || got.Size != gzipSize(t, l, gzipLevel) {
				t.Errorf("text layer %d: %s, %d bytes, want gzip at level %d (%d bytes)", i, got.MediaType, got.Size, gzipLevel, gzipSize(t, l, gzipLevel))
			}
		}
	}

	// A re-run recognises the image by its config and writes nothing.
	before := len(reg.requests())
	again, err := c.Copy(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reg.requests()[before:] {
		if !strings.HasPrefix(r, "GET ") && !strings.HasPrefix(r, "HEAD ") {
			t.Errorf("re-run wrote: %s", r)
		}
	}
	if !again.Skipped || again.Digest != res.Digest {
		t.Errorf("re-run: %+v, want skipped at %s", again, res.Digest)
	}
}

// storeUncompressed decides by the sample alone: random bytes are stored, text and tar
// headers with zeros are compressed, and nothing (an empty layer) is compressed.
func TestStoreUncompressed(t *testing.T) {
	random, _, err := testenv.DockerSave(testenv.SaveImage{LayerSizes: []int{1 << 20}, Layout: "legacy", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	text, _, err := testenv.DockerSave(testenv.SaveImage{LayerSizes: []int{1 << 20}, Layout: "legacy", Seed: 1, Text: true})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		b     []byte
		store bool
	}{
		{"random layer", layerTars(t, random)[0], true},
		{"text layer", layerTars(t, text)[0], false},
		{"zeros", make([]byte, 1<<20), false},
		{"empty", nil, false},
	}
	for _, c := range cases {
		if got := storeUncompressed(c.b); got != c.store {
			t.Errorf("%s: storeUncompressed = %v, want %v", c.name, got, c.store)
		}
	}
}

// A layer.tar whose bytes are not the tar its diff_id names fails the copy with a
// corrupt-archive error naming that diff_id, whichever way the layer goes (stored: the
// registry refuses the digest at commit; gzipped: the copier's check fails the upload before
// commit), and nothing is tagged.
func TestCopyArchiveCorruptLayerFails(t *testing.T) {
	for _, c := range []struct {
		name string
		text bool
	}{{"stored", false}, {"gzipped", true}} {
		t.Run(c.name, func(t *testing.T) {
			tarball, _, err := testenv.DockerSave(testenv.SaveImage{
				RepoTags: []string{"app:latest"}, LayerSizes: []int{2 << 20}, Layout: "legacy", Seed: 9, Text: c.text,
			})
			if err != nil {
				t.Fatal(err)
			}
			l := layerTars(t, tarball)[0]
			diffID := digest.FromBytes(l)
			b := testenv.FlipByte(tarball, l) // same size, one byte in the layer flipped

			reg := newDistRegistry(t)
			cp := reg.copier(t)
			cp.opts.S3 = putArchives(t, "corrupt", map[string][]byte{"bad.tar": b})
			_, err = cp.Copy(context.Background(), Job{Src: s3Ref(t, cp, "s3://corrupt/bad.tar"), Dest: imageRef(t, "docker://"+reg.host+"/bad:v1"), Retry: testRetry()})
			if !errors.Is(err, errs.ErrCorruptArchive) || !strings.Contains(err.Error(), diffID.String()) || !strings.Contains(err.Error(), "save the image again") {
				t.Fatalf("got %v, want a corrupt-archive error naming the layer %s", err, diffID)
			}
			if ok, err := reg.env.BlobExists(context.Background(), "bad", diffID.String()); err != nil || ok {
				t.Errorf("a blob named by the diff_id is at the destination (%v, %v)", ok, err)
			}
			if reg.digestOfTag(t, "bad:v1") != "" {
				t.Error("the tag was written")
			}
		})
	}
}

// checkDiffIDs reads every layer of img back, as a puller does: each one's bytes hash to its
// digest in the manifest, and uncompressed they hash to the diff_id the config lists.
func checkDiffIDs(t *testing.T, img v1.Image) {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		t.Fatalf("%d layers, %d diff_ids", len(layers), len(cfg.RootFS.DiffIDs))
	}
	hash := func(open func() (io.ReadCloser, error)) string {
		rc, err := open()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		d := digest.Canonical.Digester()
		if _, err := io.Copy(d.Hash(), rc); err != nil {
			t.Fatal(err)
		}
		return d.Digest().String()
	}
	for i, l := range layers {
		want, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if got := hash(l.Compressed); got != want.String() {
			t.Errorf("layer %d: its bytes hash to %s, the manifest says %s", i, got, want)
		}
		if got := hash(l.Uncompressed); got != cfg.RootFS.DiffIDs[i].String() {
			t.Errorf("layer %d: uncompressed it hashes to %s, its diff_id is %s", i, got, cfg.RootFS.DiffIDs[i])
		}
	}
}
