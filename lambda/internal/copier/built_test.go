package copier

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
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

// A classic archive whose layer.tar files are gzipped already (made by hand) is copied with
// each layer as stored, the diff_id check passing, and reads back layer by layer.
func TestCopyArchiveWithCompressedLayers(t *testing.T) {
	tarball, _, err := testenv.DockerSave(testenv.SaveImage{
		RepoTags: []string{"app:latest"}, LayerSizes: []int{1 << 20, 300 << 10}, Layout: "legacy-gzip", Seed: 5, Text: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := newDistRegistry(t)
	c := reg.copier(t)
	c.opts.S3 = putArchives(t, "handmade", map[string][]byte{"img.tar": tarball})
	res, err := c.Copy(context.Background(), Job{Src: s3Ref(t, c, "s3://handmade/img.tar"), Dest: imageRef(t, "docker://"+reg.host+"/hm/app:v1"), Retry: testRetry()})
	if err != nil {
		t.Fatal(err)
	}
	img, err := remoteImage(reg, t, "hm/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	checkDiffIDs(t, img)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layerTars(t, tarball) {
		if m.Layers[i].Digest.String() != digest.FromBytes(l).String() {
			t.Errorf("layer %d is %s at the destination, want it as stored (%s)", i, m.Layers[i].Digest, digest.FromBytes(l))
		}
	}
	if reg.digestOfTag(t, "hm/app:v1") != res.Digest {
		t.Errorf("the tag is not at %s", res.Digest)
	}
}

// A layer.tar whose bytes are not the tar its diff_id names fails the copy with a
// corrupt-archive error naming that diff_id, whichever way the layer goes (stored: the
// registry refuses the digest at commit; gzipped: the copier's check fails the upload before
// commit; compressed in the archive, as hand-made archives have them: the copier checks the
// diff_id of what it decompresses before the upload is committed), and nothing is tagged.
func TestCopyArchiveCorruptLayerFails(t *testing.T) {
	for _, c := range []struct {
		name   string
		text   bool
		layout string
		// regzip: the damaged tar is gzipped again, a sound gzip stream of the wrong tar.
		regzip bool
	}{{"stored", false, "legacy", false}, {"gzipped", true, "legacy", false},
		{"compressed in the archive", false, "legacy-gzip", false}, {"compressed again after the damage", false, "legacy-gzip", true}} {
		t.Run(c.name, func(t *testing.T) {
			tarball, _, err := testenv.DockerSave(testenv.SaveImage{
				RepoTags: []string{"app:latest"}, LayerSizes: []int{2 << 20}, Layout: c.layout, Seed: 9, Text: c.text,
			})
			if err != nil {
				t.Fatal(err)
			}
			l := layerTars(t, tarball)[0]
			diffID := digest.FromBytes(l)
			if c.layout == "legacy-gzip" {
				diffID = digest.FromBytes(gunzip(t, l))
			}
			b := testenv.FlipByte(tarball, l) // same size, one byte in the layer flipped
			if c.regzip {
				plain := gunzip(t, l)
				b = replaceMember(t, tarball, l, gzipBytes(t, testenv.FlipByte(plain, plain)))
			}
			damaged := digest.FromBytes(layerTars(t, b)[0])

			reg := newDistRegistry(t)
			cp := reg.copier(t)
			cp.opts.S3 = putArchives(t, "corrupt", map[string][]byte{"bad.tar": b})
			_, err = cp.Copy(context.Background(), Job{Src: s3Ref(t, cp, "s3://corrupt/bad.tar"), Dest: imageRef(t, "docker://"+reg.host+"/bad:v1"), Retry: testRetry()})
			if !errors.Is(err, errs.ErrCorruptArchive) || !strings.Contains(err.Error(), diffID.String()) || !strings.Contains(err.Error(), "save the image again") {
				t.Fatalf("got %v, want a corrupt-archive error naming the layer %s", err, diffID)
			}
			t.Logf("error: %v", err)
			for _, d := range []digest.Digest{diffID, damaged} {
				if ok, err := reg.env.BlobExists(context.Background(), "bad", d.String()); err != nil || ok {
					t.Errorf("blob %s (of the layer as damaged, or its diff_id) is at the destination (%v, %v)", d, ok, err)
				}
			}
			if reg.digestOfTag(t, "bad:v1") != "" {
				t.Error("the tag was written")
			}
		})
	}
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// replaceMember is tarball with the file whose contents are old given contents new.
func replaceMember(t *testing.T, tarball, old, new []byte) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(tarball))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	replaced := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg && bytes.Equal(data, old) {
			data, h.Size, replaced = new, int64(len(new)), true
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if !replaced {
		t.Fatal("replaceMember: no such member")
	}
	return out.Bytes()
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
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
