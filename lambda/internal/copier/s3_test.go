package copier

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
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
	client, err := awsenv.S3(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("assets")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("assets"), Key: aws.String("img:v1.tar"), Body: bytes.NewReader(tarball)}); err != nil {
		t.Fatal(err)
	}
	api := &inFlightAPI{API: client}
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

	// The archive's layers are compressed on the way, so the manifest
	// differs from the source; the re-run must still recognise the image.
	before := reg.writes.Load()
	again, err := c.Copy(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.writes.Load() - before; n != 0 || !again.Skipped || again.Digest != res.Digest {
		t.Errorf("re-run from S3: %d writes, %+v", n, again)
	}
}
