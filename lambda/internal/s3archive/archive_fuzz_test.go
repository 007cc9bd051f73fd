package s3archive

// Fuzz targets for S3 archive indexing: the tar walk (tar headers over ranged reads),
// manifest.json, the config and link resolution, i.e. indexArchive and newSource, the code
// NewImageSource runs on an object once its key is resolved. (The handler reads no
// index.json: docker save's OCI layout files are not consulted, manifest.json is.) The
// object is served from memory by memS3, which answers ranged GETs as S3 does.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// memS3 is an in-memory S3 object with S3's ranged GET semantics: the end of a range is
// clamped to the object, a range starting past the end fails (416).
type memS3 struct {
	data []byte
	gets int
}

func (m *memS3) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return &s3.HeadObjectOutput{ContentLength: aws.Int64(int64(len(m.data)))}, nil
}

func (m *memS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	m.gets++
	from, to := int64(0), int64(len(m.data))-1
	if r := aws.ToString(in.Range); r != "" {
		a, b, ok := strings.Cut(strings.TrimPrefix(r, "bytes="), "-")
		var err1, err2 error
		from, err1 = strconv.ParseInt(a, 10, 64)
		to, err2 = strconv.ParseInt(b, 10, 64)
		if !ok || err1 != nil || err2 != nil || from < 0 || to < from {
			return nil, fmt.Errorf("memS3: bad range %q", r)
		}
	}
	if from >= int64(len(m.data)) {
		return nil, fmt.Errorf("memS3: InvalidRange %d-%d of %d bytes", from, to, len(m.data))
	}
	to = min(to, int64(len(m.data))-1)
	body := m.data[from : to+1]
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(body)), ContentLength: aws.Int64(int64(len(body)))}, nil
}

// heapLimit bounds what indexing and opening an archive of n bytes may allocate in all:
// members kept from the index windows (keepLimit), a window per GET, the manifest and config
// (read whole, bounded by their limits) and a fixed overhead.
func heapLimit(n int) uint64 { return uint64(8*n) + 2*keepLimit + 4*indexWindow + 8<<20 }

// checkArchive indexes data and opens its image as NewImageSource does, and checks what
// comes out. It returns the error, for callers that check more.
func checkArchive(t *testing.T, data []byte, ref string) error {
	t.Helper()
	ctx := context.Background()
	api := &memS3{data: data}
	obj := &object{api: api, bucket: "fuzz", key: "img.tar", size: int64(len(data))}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	a, err := indexArchive(ctx, obj)
	var src *source
	if err == nil {
		checkIndex(t, a, data, api.gets)
		src, err = newSource(ctx, &Reference{}, a, ref)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > heapLimit(len(data)) {
		t.Fatalf("opening a %d-byte archive allocated %d bytes (limit %d)", len(data), grew, heapLimit(len(data)))
	}
	if err != nil {
		if errors.Is(err, errs.ErrInternal) {
			t.Fatalf("a panic while opening the archive: %v", err)
		}
		// The object is always readable here, so every failure is the archive's fault
		// or, with a ref, the ref's (malformed, or naming no image of the archive).
		if !errors.Is(err, errs.ErrCorruptArchive) && (ref == "" || !errors.Is(err, errs.ErrInvalidProperty) && !errors.Is(err, errs.ErrNotFound)) {
			t.Fatalf("error without ErrCorruptArchive: %v", err)
		}
		if !strings.Contains(err.Error(), "s3://fuzz/img.tar") {
			t.Fatalf("error does not name the object: %v", err)
		}
		if n := len(err.Error()); n > 10*len(data)+4096 {
			t.Fatalf("error of %d bytes for %d bytes of archive", n, len(data))
		}
		return err
	}
	checkSource(t, src, data)
	return nil
}

func checkIndex(t *testing.T, a *archive, data []byte, gets int) {
	t.Helper()
	kept := 0
	for name, m := range a.members {
		if m.offset < 0 || m.size < 0 || m.offset > int64(len(data)) || m.size > int64(len(data))-m.offset {
			t.Fatalf("member %q at %d+%d lies outside the %d-byte object", name, m.offset, m.size, len(data))
		}
		body := data[m.offset : m.offset+m.size]
		if m.data != nil && !bytes.Equal(m.data, body) {
			t.Fatalf("member %q: kept bytes differ from the object", name)
		}
		if m.magic != nil && !bytes.HasPrefix(body, m.magic) {
			t.Fatalf("member %q: magic %x is not its first bytes", name, m.magic)
		}
		kept += len(m.data)
		if name != cleanName(name) || strings.HasPrefix(name, "../") || name == ".." {
			t.Fatalf("member name %q is not clean", name)
		}
	}
	if kept > keepLimit {
		t.Fatalf("kept %d bytes of small members, limit %d", kept, keepLimit)
	}
	// Every GET moves the walk forward by at least one 512-byte block.
	if gets > len(data)/512+2 {
		t.Fatalf("indexing %d bytes took %d GETs", len(data), gets)
	}
}

func checkSource(t *testing.T, src *source, data []byte) {
	t.Helper()
	ctx := context.Background()
	mb, mt, err := src.GetManifest(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.FromBlob(mb, mt)
	if err != nil {
		t.Fatalf("the generated manifest does not parse: %v", err)
	}
	cfg := m.ConfigInfo()
	if cfg.Digest != digest.FromBytes(src.config) || cfg.Size != int64(len(src.config)) {
		t.Fatalf("config %s/%d does not describe the config", cfg.Digest, cfg.Size)
	}
	read := func(info types.BlobInfo) []byte {
		rc, size, err := src.GetBlob(ctx, info, nil)
		if err != nil {
			t.Fatalf("GetBlob(%s): %v", info.Digest, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, int64(len(data))+1))
		if err != nil {
			t.Fatalf("reading blob %s: %v", info.Digest, err)
		}
		if int64(len(b)) != size {
			t.Fatalf("blob %s: read %d bytes, GetBlob said %d", info.Digest, len(b), size)
		}
		return b
	}
	if !bytes.Equal(read(cfg), src.config) {
		t.Fatal("config blob differs")
	}
	for _, l := range m.LayerInfos() {
		b := read(l.BlobInfo)
		if int64(len(b)) != l.Size {
			t.Fatalf("layer %s: %d bytes, the manifest says %d", l.Digest, len(b), l.Size)
		}
		// The s3 path never decompresses: a layer is served as stored.
		if !bytes.Contains(data, b) {
			t.Fatalf("layer %s is not bytes of the archive", l.Digest)
		}
		// A compressed layer's digest is of its bytes, unless its name says the digest
		// (blobs/sha256/<hex>, trusted as docker writes it; containers/image checks the
		// digest of every blob it copies).
		if detect(b) != uncompressed && digest.FromBytes(b) != l.Digest && !namedByDigest(src, l.Digest) {
			t.Fatalf("compressed layer %s has digest %s", l.Digest, digest.FromBytes(b))
		}
	}
}

func namedByDigest(src *source, d digest.Digest) bool {
	for name := range src.a.members {
		if name == "blobs/sha256/"+d.Encoded() {
			return true
		}
	}
	return false
}

func seedArchives(f *testing.F) [][]byte {
	var out [][]byte
	for i, layout := range []string{"legacy", "oci", "oci-gzip"} {
		tarball, _, err := testenv.DockerSave(testenv.SaveImage{RepoTags: []string{"app:latest"}, LayerSizes: []int{100, 700}, Layout: layout, Seed: uint64(i)})
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, tarball)
	}
	two, _, err := testenv.DockerSave(
		testenv.SaveImage{RepoTags: []string{"one:v1"}, LayerSizes: []int{10}, Layout: "legacy", Seed: 1},
		testenv.SaveImage{RepoTags: []string{"two:v2"}, LayerSizes: []int{20}, Layout: "oci", Seed: 2})
	if err != nil {
		f.Fatal(err)
	}
	return append(out, two)
}

// FuzzIndexArchive feeds arbitrary bytes as the S3 object. Seeds are real docker save
// tarballs (legacy, OCI and gzip layouts, two images), whole and truncated; mutations of
// their bodies keep the tar checksums valid, so manifest.json and the config get fuzzed too.
func FuzzIndexArchive(f *testing.F) {
	for _, tarball := range seedArchives(f) {
		f.Add(tarball, "")
		f.Add(tarball[:len(tarball)-1024-300], "") // the last member cut short
		f.Add(tarball[:1536], "@0")
	}
	f.Add([]byte("not a tar"), "")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, data []byte, ref string) {
		if len(data) > 1<<20 {
			return
		}
		for _, r := range []string{"", ref} {
			_ = checkArchive(t, data, r)
		}
	})
}

// buildTar writes a tar from a line-per-entry spec, so that the fuzzer controls the
// structure (names, links, types, sizes) while checksums stay valid:
//
//	f NAME          a file holding layer
//	z NAME          a file holding layer, gzipped
//	m NAME          a file holding manifest
//	c NAME          a file holding config
//	l NAME TARGET   a symbolic link
//	h NAME TARGET   a hard link
//	d NAME          a directory
//	s NAME SIZE     a header claiming SIZE bytes, then the archive ends (truncated)
func buildTar(spec string, manifestJSON, config, layer []byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	file := func(name string, body []byte) {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		_, _ = tw.Write(body)
	}
	for line := range strings.Lines(spec) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, target := f[1], ""
		if len(f) > 2 {
			target = f[2]
		}
		switch f[0] {
		case "f":
			file(name, layer)
		case "z":
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			_, _ = zw.Write(layer)
			_ = zw.Close()
			file(name, gz.Bytes())
		case "m":
			file(name, manifestJSON)
		case "c":
			file(name, config)
		case "l":
			_ = tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target})
		case "h":
			_ = tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target})
		case "d":
			_ = tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755})
		case "s":
			size, _ := strconv.ParseInt(target, 10, 64)
			_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: max(size, 0), Typeflag: tar.TypeReg})
			_ = tw.Flush()
			return buf.Bytes()
		}
	}
	_ = tw.Close()
	return buf.Bytes()
}

// FuzzArchiveEntries builds archives from a fuzzed structure (see buildTar) with fuzzed
// manifest.json, config and layer bodies: duplicate names, ../ and absolute paths, link
// loops and chains, missing blobs, huge declared sizes.
func FuzzArchiveEntries(f *testing.F) {
	diff := digest.FromBytes([]byte("layer")).String()
	config := `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + diff + `"]}}`
	mj := `[{"Config":"c.json","RepoTags":["app:latest"],"Layers":["l/layer.tar"]}]`
	for _, s := range []struct{ spec, manifest, config string }{
		{"m manifest.json\nc c.json\nf l/layer.tar\n", mj, config},
		{"m manifest.json\nc c.json\nz blobs/sha256/x\nl l/layer.tar ../blobs/sha256/x\n", mj, config},
		{"m manifest.json\nc c.json\nf l/layer.tar\nm manifest.json\n", `[]`, config},
		{"m ../manifest.json\nc /c.json\nf ../../l/layer.tar\n", mj, config},
		{"m manifest.json\nc c.json\nl l/layer.tar l/layer.tar\n", mj, config},
		{"m manifest.json\nc c.json\nl l/layer.tar a\nl a b\nl b l/layer.tar\n", mj, config},
		{"m manifest.json\nc c.json\nh l/layer.tar /etc/passwd\n", mj, config},
		{"m manifest.json\nc c.json\ns l/layer.tar 1000000000000\n", mj, config},
		{"m manifest.json\nc c.json\ns l/layer.tar 9223372036854775000\n", mj, config},
		{"m manifest.json\nc c.json\n", mj, config},
		{"m manifest.json\n", `[{"Config":"../../../../etc/passwd","Layers":[]}]`, config},
		{"m manifest.json\nc c.json\nf l/layer.tar\n", `[{"Config":"c.json","Layers":["l/layer.tar","l/layer.tar"]}]`, `{"rootfs":{"diff_ids":["` + diff + `","` + diff + `"]}}`},
		{"d manifest.json\n", mj, config},
	} {
		f.Add(s.spec, []byte(s.manifest), []byte(s.config), []byte("layer"))
	}
	f.Fuzz(func(t *testing.T, spec string, manifestJSON, config, layer []byte) {
		if len(spec)+len(manifestJSON)+len(config)+len(layer) > 256<<10 {
			return
		}
		data := buildTar(spec, manifestJSON, config, layer)
		_ = checkArchive(t, data, "")
	})
}
