package copier

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/pgzip"
	"go.podman.io/image/v5/manifest"

	"github.com/cdk-ecr-deployment/handler/internal/s3archive"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// Only the tests that call AWS APIs start moto (testenv.NeedMoto).
func TestMain(m *testing.M) { testenv.Main(m) }

// inFlightAPI passes calls to the real S3 client and records how many
// object bodies were open at once.
type inFlightAPI struct {
	s3archive.API
	open, peak atomic.Int64
}

func (a *inFlightAPI) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	out, err := a.API.GetObject(ctx, in, o...)
	if err != nil {
		return out, err
	}
	n := a.open.Add(1)
	for {
		p := a.peak.Load()
		if n <= p || a.peak.CompareAndSwap(p, n) {
			break
		}
	}
	out.Body = &closeHook{ReadCloser: out.Body, done: func() { a.open.Add(-1) }}
	return out, nil
}

type closeHook struct {
	io.ReadCloser
	once atomic.Bool
	done func()
}

func (c *closeHook) Close() error {
	if c.once.CompareAndSwap(false, true) {
		c.done()
	}
	return c.ReadCloser.Close()
}

func TestCopyFromS3Archive(t *testing.T) {
	testenv.NeedMoto(t)
	ctx := context.Background()
	tarball, configs, err := testenv.DockerSave(testenv.SaveImage{
		RepoTags: []string{"app:latest"}, LayerSizes: []int{3 << 20, 2 << 20, 1 << 20, 512 << 10}, Layout: "legacy", Seed: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	api := &inFlightAPI{API: testenv.S3Bucket(t, "assets", map[string][]byte{"img:v1.tar": tarball})}
	reg := newRegistry(t)
	c := reg.copier(t)
	c.opts.S3 = func(context.Context, string) (s3archive.API, error) { return api, nil }

	src, err := c.ParseSource("s3://assets/img:v1.tar:app:latest")
	if err != nil {
		t.Fatal(err)
	}
	job := Job{Src: src, Dest: imageRef(t, "docker://"+reg.host+"/from-s3/app:v1"), Retry: testRetry()}
	res, err := c.Copy(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if reg.digestOfTag(t, "from-s3/app:v1") != res.Digest {
		t.Errorf("destination does not hold %s", res.Digest)
	}
	img, err := remoteImage(reg, t, "from-s3/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigName()
	if cfg.String() != configs[0] {
		t.Errorf("config %s, want %s", cfg, configs[0])
	}
	if api.peak.Load() < 2 {
		t.Errorf("at most %d layer streams were open at once; layers should be read concurrently", api.peak.Load())
	}

	// The archive's manifest is built around the layers as written, so it
	// differs from the source's; the re-run must still recognise the image.
	before := reg.writes.Load()
	again, err := c.Copy(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.writes.Load() - before; n != 0 || !again.Skipped || again.Digest != res.Digest {
		t.Errorf("re-run from S3: %d writes, %+v", n, again)
	}
}

// The layer.tar files of a classic archive reach the registry gzipped at gzipLevel (the
// level bench/gzip.sh chose), not at containers/image's default.
func TestCopyArchiveGzipsAtChosenLevel(t *testing.T) {
	ctx := context.Background()
	tarball, _, err := testenv.DockerSave(testenv.SaveImage{
		RepoTags: []string{"app:latest"}, LayerSizes: []int{3 << 20, 1 << 20}, Layout: "legacy", Seed: 5, Text: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := newRegistry(t)
	c := reg.copier(t)
	c.opts.S3 = putArchives(t, "levels", map[string][]byte{"img.tar": tarball})
	src, err := c.ParseSource("s3://levels/img.tar")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Copy(ctx, Job{Src: src, Dest: imageRef(t, "docker://"+reg.host+"/levels/app:v1"), Retry: testRetry()}); err != nil {
		t.Fatal(err)
	}
	img, err := remoteImage(reg, t, "levels/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}

	// Every layer compresses: the manifest stays Docker schema 2, as before layers could be stored.
	if string(m.MediaType) != manifest.DockerV2Schema2MediaType {
		t.Errorf("manifest %s, want Docker schema 2", m.MediaType)
	}
	layers := layerTars(t, tarball)
	if len(m.Layers) != len(layers) {
		t.Fatalf("%d layers at the destination, %d in the archive", len(m.Layers), len(layers))
	}
	for i, l := range layers {
		if string(m.Layers[i].MediaType) != manifest.DockerV2Schema2LayerMediaType {
			t.Errorf("layer %d: %s, want gzip", i, m.Layers[i].MediaType)
		}
		chosen, dflt := gzipSize(t, l, gzipLevel), gzipSize(t, l, pgzip.DefaultCompression)
		if chosen == dflt {
			t.Fatalf("layer %d: level %d and the default give the same size (%d); the content does not tell them apart", i, gzipLevel, chosen)
		}
		if m.Layers[i].Size != chosen {
			t.Errorf("layer %d is %d bytes at the destination; gzip level %d gives %d, the default level %d (%d bytes uncompressed)",
				i, m.Layers[i].Size, gzipLevel, chosen, dflt, len(l))
		}
	}
}

// layerTars are the layer.tar members of a classic archive, in manifest.json's order.
func layerTars(t *testing.T, tarball []byte) [][]byte {
	t.Helper()
	members := testenv.TarFiles(t, tarball)
	var items []struct{ Layers []string }
	if err := json.Unmarshal(members["manifest.json"], &items); err != nil || len(items) != 1 {
		t.Fatalf("manifest.json: %v (%d items)", err, len(items))
	}
	var out [][]byte
	for _, name := range items[0].Layers {
		out = append(out, members[name])
	}
	return out
}

// gzipSize is the size of b gzipped as containers/image gzips (pgzip, default concurrency).
func gzipSize(t *testing.T, b []byte, level int) int64 {
	t.Helper()
	var buf bytes.Buffer
	w, err := pgzip.NewWriterLevel(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return int64(buf.Len())
}
