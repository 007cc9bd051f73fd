package s3archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunWithMoto(m, "s3archive") }

// countingAPI passes calls to the real client and counts them.
type countingAPI struct {
	API
	heads, gets atomic.Int64
	bytes       atomic.Int64
}

func (c *countingAPI) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	c.heads.Add(1)
	return c.API.HeadObject(ctx, in, o...)
}

func (c *countingAPI) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.gets.Add(1)
	out, err := c.API.GetObject(ctx, in, o...)
	if err == nil {
		c.bytes.Add(aws.ToInt64(out.ContentLength))
	}
	return out, err
}

func setup(t *testing.T, bucket string, objects map[string][]byte) *countingAPI {
	t.Helper()
	return &countingAPI{API: testenv.S3Bucket(t, bucket, objects)}
}

func open(t *testing.T, api API, name string) (types.ImageSource, error) {
	t.Helper()
	ref, err := Transport{Clients: func(context.Context, string) (API, error) { return api, nil }}.ParseReference(name)
	if err != nil {
		t.Fatal(err)
	}
	return ref.NewImageSource(context.Background(), nil)
}

func TestCandidates(t *testing.T) {
	got := candidates("dir/a:b.tar:app:latest")
	want := [][2]string{{"dir/a:b.tar:app:latest", ""}, {"dir/a:b.tar:app", "latest"}, {"dir/a:b.tar", "app:latest"}, {"dir/a", "b.tar:app:latest"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("candidates = %v, want %v", got, want)
	}
}

func TestLayoutsAndRangedReads(t *testing.T) {
	for i, layout := range []string{"legacy", "oci", "oci-gzip"} {
		t.Run(layout, func(t *testing.T) {
			sizes := []int{300 << 10, 200 << 10, 1 << 10}
			tarball, configs, err := testenv.DockerSave(testenv.SaveImage{RepoTags: []string{"app:latest"}, LayerSizes: sizes, Layout: layout, Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			api := setup(t, fmt.Sprintf("layouts-%d", i), map[string][]byte{"img.tar": tarball})
			src, err := open(t, api, "//"+fmt.Sprintf("layouts-%d", i)+"/img.tar")
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			indexGets := api.gets.Load()
			// Walking headers costs one GET per large member (its body is skipped) plus the
			// first; small files (manifest.json, the config, tiny layers) come out of those
			// windows without GETs of their own.
			large := 0
			for _, n := range sizes {
				if n > indexWindow {
					large++
				}
			}
			if indexGets > int64(large)+1 {
				t.Errorf("opening took %d GETs, want at most %d", indexGets, large+1)
			}
			if read := api.bytes.Load(); read > int64(len(tarball))/2 {
				t.Errorf("indexing read %d of %d bytes; it should skip layer bodies", read, len(tarball))
			}
			mb, mt, err := src.GetManifest(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			m, err := manifest.FromBlob(mb, mt)
			if err != nil {
				t.Fatal(err)
			}
			if m.ConfigInfo().Digest.String() != configs[0] {
				t.Errorf("config digest %s, want %s", m.ConfigInfo().Digest, configs[0])
			}
			layers := m.LayerInfos()
			if len(layers) != len(sizes) {
				t.Fatalf("%d layers", len(layers))
			}
			// Every blob's content must match its digest.
			for _, l := range layers {
				rc, size, err := src.GetBlob(context.Background(), l.BlobInfo, nil)
				if err != nil {
					t.Fatal(err)
				}
				data, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(data)) != size || digest.FromBytes(data) != l.Digest {
					t.Errorf("layer %s: read %d bytes with digest %s", l.Digest, len(data), digest.FromBytes(data))
				}
			}
		})
	}
}

func TestKeyWithColonsAndRefs(t *testing.T) {
	tarball, configs, err := testenv.DockerSave(
		testenv.SaveImage{RepoTags: []string{"one:v1"}, LayerSizes: []int{1000}, Layout: "legacy", Seed: 1},
		testenv.SaveImage{RepoTags: []string{"example.com/two:v2"}, LayerSizes: []int{2000}, Layout: "legacy", Seed: 2},
	)
	if err != nil {
		t.Fatal(err)
	}
	api := setup(t, "colons", map[string][]byte{"builds/app:1.0.tar": tarball})
	for ref, want := range map[string]string{
		"builds/app:1.0.tar:one:v1":             configs[0],
		"builds/app:1.0.tar:example.com/two:v2": configs[1],
		"builds/app:1.0.tar:@1":                 configs[1],
	} {
		src, err := open(t, api, "//colons/"+ref)
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		mb, mt, _ := src.GetManifest(context.Background(), nil)
		m, _ := manifest.FromBlob(mb, mt)
		if m.ConfigInfo().Digest.String() != want {
			t.Errorf("%s picked config %s, want %s", ref, m.ConfigInfo().Digest, want)
		}
		src.Close()
	}
	if _, err := open(t, api, "//colons/builds/app:1.0.tar"); !errors.Is(err, errs.ErrCorruptArchive) || !strings.Contains(err.Error(), "holds 2 images") {
		t.Errorf("no ref with 2 images: %v", err)
	}
	if _, err := open(t, api, "//colons/builds/app:1.0.tar:three:v3"); err == nil || !strings.Contains(err.Error(), "three:v3") {
		t.Errorf("unknown ref: %v", err)
	}
}

func TestMissingAndCorrupt(t *testing.T) {
	api := setup(t, "bad", map[string][]byte{"junk.tar": bytes.Repeat([]byte("not a tar"), 200), "empty.tar": {}})
	_, err := open(t, api, "//bad/nope.tar")
	if !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), "s3://bad/nope.tar does not exist") {
		t.Errorf("missing object: %v", err)
	}
	for _, k := range []string{"junk.tar", "empty.tar"} {
		_, err = open(t, api, "//bad/"+k)
		if !errors.Is(err, errs.ErrCorruptArchive) || !strings.Contains(err.Error(), "s3://bad/"+k) {
			t.Errorf("%s: %v", k, err)
		}
	}
}
