package copier

// OCI image-layout archives in S3 (moto) copied to a real docker-registry keep their digests:
// Docker 25+ docker save archives (index.json -> index -> image manifests + attestations, and
// manifest.json), zstd layers, and the archives skopeo writes.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/props"
	"github.com/cdk-ecr-deployment/handler/internal/s3archive"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// putArchives stores objects in a new moto bucket and returns the S3 client factory.
func putArchives(t *testing.T, bucket string, objects map[string][]byte) s3archive.ClientFor {
	t.Helper()
	client := testenv.S3Bucket(t, bucket, objects)
	return func(context.Context, string) (s3archive.API, error) { return client, nil }
}

// hasManifest reports whether repo@digest exists at the registry.
func (tr *testRegistry) hasManifest(t *testing.T, repo, d string) bool {
	t.Helper()
	_, err := remote.Head(tr.ref(t, repo+"@"+d), tr.remoteOpts()...)
	return err == nil
}

func TestCopyDocker25ArchiveKeepsDigests(t *testing.T) {
	tarball, dg, err := testenv.OCILayoutArchive(testenv.LayoutImage{
		Name: "docker.io/library/app:latest", RepoTags: []string{"app:latest"}, Platforms: []string{"amd64", "arm64"},
		LayerSizes: []int{1 << 20, 1000}, Attest: true, Seed: 25,
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := newDistRegistry(t)
	c := reg.copier(t)
	c.opts.S3 = putArchives(t, "docker25", map[string][]byte{"app.tar": tarball})
	ctx := context.Background()

	t.Run("single image: the platform's manifest as in the index", func(t *testing.T) {
		res, err := c.Copy(ctx, Job{Src: s3Ref(t, c, "s3://docker25/app.tar"), Dest: imageRef(t, "docker://"+reg.host+"/single:v1"), Retry: testRetry()})
		if err != nil {
			t.Fatal(err)
		}
		want := dg[0].Manifests["amd64"]
		if res.Digest != want || reg.digestOfTag(t, "single:v1") != want {
			t.Errorf("copied %s (tag at %s), want the archive's amd64 manifest %s", res.Digest, reg.digestOfTag(t, "single:v1"), want)
		}
		again, err := c.Copy(ctx, Job{Src: s3Ref(t, c, "s3://docker25/app.tar"), Dest: imageRef(t, "docker://"+reg.host+"/single:v1"), Retry: testRetry()})
		if err != nil || !again.Skipped || again.Digest != want {
			t.Errorf("re-run: %+v, %v; want skipped at %s", again, err, want)
		}
	})
	t.Run("CopyImageIndex: the index and its attestations", func(t *testing.T) {
		res, err := c.Copy(ctx, Job{Src: s3Ref(t, c, "s3://docker25/app.tar:app:latest"), Dest: imageRef(t, "docker://"+reg.host+"/all:v1"), CopyImageIndex: true, Retry: testRetry()})
		if err != nil {
			t.Fatal(err)
		}
		if res.Digest != dg[0].Top || reg.digestOfTag(t, "all:v1") != dg[0].Top {
			t.Errorf("copied %s (tag at %s), want the archive's index %s", res.Digest, reg.digestOfTag(t, "all:v1"), dg[0].Top)
		}
		if len(dg[0].Attestations) != 2 {
			t.Fatalf("the archive has %d attestations", len(dg[0].Attestations))
		}
		for _, d := range append(dg[0].Attestations, dg[0].Manifests["amd64"], dg[0].Manifests["arm64"]) {
			if !reg.hasManifest(t, "all", d) {
				t.Errorf("all@%s is missing at the destination", d)
			}
		}
	})
	t.Run("two platforms: a filtered index of exactly those children", func(t *testing.T) {
		res, err := c.Copy(ctx, Job{Src: s3Ref(t, c, "s3://docker25/app.tar"), Dest: imageRef(t, "docker://"+reg.host+"/two:v1"),
			Platforms: []props.Platform{{Arch: "amd64"}, {Arch: "arm64"}}, Retry: testRetry()})
		if err != nil {
			t.Fatal(err)
		}
		if res.Digest == dg[0].Top || reg.digestOfTag(t, "two:v1") != res.Digest {
			t.Fatalf("copied %s (tag at %s); want a new index, not the archive's %s", res.Digest, reg.digestOfTag(t, "two:v1"), dg[0].Top)
		}
		idx, err := remote.Index(reg.ref(t, "two@"+res.Digest), reg.remoteOpts()...)
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range im.Manifests {
			got = append(got, m.Digest.String())
			if !reg.hasManifest(t, "two", m.Digest.String()) {
				t.Errorf("two@%s is listed but missing", m.Digest)
			}
		}
		want := []string{dg[0].Manifests["amd64"], dg[0].Manifests["arm64"]}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("the filtered index lists %v, want the archive's amd64 and arm64 manifests %v", got, want)
		}
	})
	t.Run("ImageArch arm64: the arm64 child", func(t *testing.T) {
		res, err := c.Copy(ctx, Job{Src: s3Ref(t, c, "s3://docker25/app.tar"), Dest: imageRef(t, "docker://"+reg.host+"/arm:v1"),
			Platforms: []props.Platform{{Arch: "arm64"}}, Retry: testRetry()})
		if err != nil {
			t.Fatal(err)
		}
		if want := dg[0].Manifests["arm64"]; res.Digest != want || reg.digestOfTag(t, "arm:v1") != want {
			t.Errorf("copied %s, want the archive's arm64 manifest %s", res.Digest, want)
		}
	})
}

// zstd (application/vnd.oci.image.layer.v1.tar+zstd) and uncompressed layers are copied as
// stored: the same manifest digest, the same blobs.
func TestCopyLayoutLayersAsStored(t *testing.T) {
	reg := newDistRegistry(t)
	c := reg.copier(t)
	objects := map[string][]byte{}
	want := map[string]testenv.LayoutDigests{}
	for _, comp := range []string{"zstd", "none"} {
		tarball, dg, err := testenv.OCILayoutArchive(testenv.LayoutImage{Name: "docker.io/library/z:1", LayerSizes: []int{1 << 20, 100},
			Compression: comp, Single: true, Seed: 6})
		if err != nil {
			t.Fatal(err)
		}
		objects[comp+".tar"], want[comp] = tarball, dg[0]
	}
	c.opts.S3 = putArchives(t, "stored", objects)
	for _, comp := range []string{"zstd", "none"} {
		t.Run(comp, func(t *testing.T) {
			res, err := c.Copy(context.Background(), Job{Src: s3Ref(t, c, "s3://stored/"+comp+".tar"), Dest: imageRef(t, "docker://"+reg.host+"/"+comp+":v1"), Retry: testRetry()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Digest != want[comp].Top || reg.digestOfTag(t, comp+":v1") != want[comp].Top {
				t.Fatalf("copied %s, want the archive's manifest %s", res.Digest, want[comp].Top)
			}
			img, err := remoteImage(reg, t, comp+":v1")
			if err != nil {
				t.Fatal(err)
			}
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range layers {
				mt, _ := l.MediaType()
				d, _ := l.Digest()
				if comp == "zstd" && mt != "application/vnd.oci.image.layer.v1.tar+zstd" {
					t.Errorf("layer %s is %s at the destination", d, mt)
				}
				if ok, err := reg.env.BlobExists(context.Background(), comp, d.String()); err != nil || !ok {
					t.Errorf("blob %s not at the destination: %v", d, err)
				}
			}
		})
	}
}

// A layer whose bytes do not match its digest fails the copy with a corrupt-archive error,
// and the registry never holds it.
func TestCopyLayoutCorruptBlobFails(t *testing.T) {
	tarball, dg, err := testenv.OCILayoutArchive(testenv.LayoutImage{LayerSizes: []int{512 << 10}, Single: true, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	entries := testenv.TarFiles(t, tarball)
	var m struct{ Layers []struct{ Digest string } }
	if err := json.Unmarshal(entries["blobs/sha256/"+strings.TrimPrefix(dg[0].Top, "sha256:")], &m); err != nil || len(m.Layers) != 1 {
		t.Fatalf("the archive's manifest: %v", err)
	}
	layer := m.Layers[0].Digest
	body := entries["blobs/sha256/"+strings.TrimPrefix(layer, "sha256:")]
	b := testenv.FlipByte(tarball, body) // same size, one byte in the layer flipped

	reg := newDistRegistry(t)
	c := reg.copier(t)
	c.opts.S3 = putArchives(t, "corrupt", map[string][]byte{"bad.tar": b})
	_, err = c.Copy(context.Background(), Job{Src: s3Ref(t, c, "s3://corrupt/bad.tar"), Dest: imageRef(t, "docker://"+reg.host+"/bad:v1"), Retry: testRetry()})
	if !errors.Is(err, errs.ErrCorruptArchive) || !strings.Contains(err.Error(), "does not match its digest") {
		t.Fatalf("got %v, want a corrupt-archive error saying the blob does not match its digest", err)
	}
	if ok, err := reg.env.BlobExists(context.Background(), "bad", layer); err != nil || ok {
		t.Errorf("the corrupt layer is at the destination (%v, %v)", ok, err)
	}
	if reg.digestOfTag(t, "bad:v1") != "" {
		t.Error("the tag was written")
	}
}

// skopeo writes the archives: oci-archive: (an OCI image layout) keeps the digest its
// index.json gives; docker-archive: (classic) still copies as before.
func TestCopySkopeoArchives(t *testing.T) {
	reg := newDistRegistry(t)
	certs := t.TempDir()
	if err := os.WriteFile(filepath.Join(certs, "ca.crt"), reg.env.PKI.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	classic, configs, err := testenv.DockerSave(testenv.SaveImage{RepoTags: []string{"app:latest"}, LayerSizes: []int{1 << 20, 1000}, Layout: "legacy", Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "in.tar"), classic, 0o600); err != nil {
		t.Fatal(err)
	}
	skopeo := func(args ...string) {
		t.Helper()
		cmd := exec.Command("skopeo", append([]string{"--insecure-policy"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "TMPDIR="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	src := "docker://" + reg.host + "/src/app:1"
	skopeo("copy", "--dest-cert-dir", certs, "docker-archive:"+filepath.Join(dir, "in.tar"), src)
	skopeo("copy", "--src-cert-dir", certs, src, "oci-archive:"+filepath.Join(dir, "oci.tar")+":app:1")
	skopeo("copy", "--src-cert-dir", certs, src, "docker-archive:"+filepath.Join(dir, "docker.tar")+":app:1")
	ociTar, err := os.ReadFile(filepath.Join(dir, "oci.tar"))
	if err != nil {
		t.Fatal(err)
	}
	dockerTar, err := os.ReadFile(filepath.Join(dir, "docker.tar"))
	if err != nil {
		t.Fatal(err)
	}
	// The digest the archive gives the image: its index.json entry.
	data, ok := testenv.TarFiles(t, ociTar)["index.json"]
	if !ok {
		t.Fatal("skopeo's oci-archive has no index.json")
	}
	var idx struct{ Manifests []struct{ Digest string } }
	if err := json.Unmarshal(data, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index.json of skopeo's oci-archive: %v %s", err, data)
	}
	want := idx.Manifests[0].Digest

	c := reg.copier(t)
	c.opts.S3 = putArchives(t, "skopeo", map[string][]byte{"oci.tar": ociTar, "docker.tar": dockerTar})
	res, err := c.Copy(context.Background(), Job{Src: s3Ref(t, c, "s3://skopeo/oci.tar:app:1"), Dest: imageRef(t, "docker://"+reg.host+"/from-oci:v1"), Retry: testRetry()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != want || reg.digestOfTag(t, "from-oci:v1") != want {
		t.Errorf("oci-archive copied as %s, want the archive's %s", res.Digest, want)
	}
	res, err = c.Copy(context.Background(), Job{Src: s3Ref(t, c, "s3://skopeo/docker.tar:app:1"), Dest: imageRef(t, "docker://"+reg.host+"/from-docker:v1"), Retry: testRetry()})
	if err != nil {
		t.Fatal(err)
	}
	img, err := remoteImage(reg, t, "from-docker:v1")
	if err != nil {
		t.Fatal(err)
	}
	if cfg, _ := img.ConfigName(); cfg.String() != configs[0] || reg.digestOfTag(t, "from-docker:v1") != res.Digest {
		t.Errorf("docker-archive copied with config %s (digest %s), want config %s", cfg, res.Digest, configs[0])
	}
}

// headCounter counts HEADs (one per key candidate, each time the archive is opened) and GETs.
type headCounter struct {
	s3archive.API
	heads, gets atomic.Int64
}

func (h *headCounter) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	h.heads.Add(1)
	return h.API.HeadObject(ctx, in, o...)
}

func (h *headCounter) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	h.gets.Add(1)
	return h.API.GetObject(ctx, in, o...)
}

// A copy opens the archive for planning and again inside copy.Image: it is resolved and
// indexed once. The object key has no ':', so one HEAD resolves it.
func TestCopyIndexesArchiveOnce(t *testing.T) {
	for _, c := range []struct {
		name    string
		archive func() ([]byte, error)
	}{
		{"classic", func() ([]byte, error) {
			b, _, err := testenv.DockerSave(testenv.SaveImage{RepoTags: []string{"app:latest"}, LayerSizes: []int{300 << 10, 200 << 10}, Layout: "oci-gzip", Seed: 13})
			return b, err
		}},
		{"layout", func() ([]byte, error) {
			b, _, err := testenv.OCILayoutArchive(testenv.LayoutImage{LayerSizes: []int{300 << 10, 200 << 10}, Attest: true, Seed: 13})
			return b, err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tarball, err := c.archive()
			if err != nil {
				t.Fatal(err)
			}
			reg := newDistRegistry(t)
			cp := reg.copier(t)
			clients := putArchives(t, "once-"+c.name, map[string][]byte{"app.tar": tarball})
			api, _ := clients(context.Background(), "")
			counter := &headCounter{API: api}
			cp.opts.S3 = func(context.Context, string) (s3archive.API, error) { return counter, nil }
			if _, err := cp.Copy(context.Background(), Job{Src: s3Ref(t, cp, "s3://once-"+c.name+"/app.tar"), Dest: imageRef(t, "docker://"+reg.host+"/once:v1"), Retry: testRetry()}); err != nil {
				t.Fatal(err)
			}
			if n := counter.heads.Load(); n != 1 {
				t.Errorf("the archive was resolved %d times, want once", n)
			}
			t.Logf("%d GETs in all", counter.gets.Load())
		})
	}
}

// s3Ref is an s3:// source read through c's S3 client.
func s3Ref(t testing.TB, c *Copier, name string) types.ImageReference {
	t.Helper()
	ref, err := c.ParseSource(name)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}
