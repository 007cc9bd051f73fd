package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// ImageSpec is a test image: one random-content file per layer, deterministic in Seed, so
// repeated bench runs copy the same bytes and the generated blobs can be cached.
type ImageSpec struct {
	Cache  string  `json:"cache"`
	Arch   string  `json:"arch"`
	Layers []int64 `json:"layers"` // bytes of random content per layer
	Seed   uint64  `json:"seed"`
	Push   *struct {
		Registry string `json:"registry"` // host:port (TLS)
		Repo     string `json:"repo"`
		Tag      string `json:"tag"` // empty: push by digest only
		User     string `json:"user"`
		Password string `json:"password"`
		CA       string `json:"ca"`
	} `json:"push"`
	Save *struct {
		Path    string `json:"path"`
		RepoTag string `json:"repoTag"`
	} `json:"save"`
	// SaveDocker25 also writes the image as `docker save` of Docker 25 and later does.
	SaveDocker25 *struct {
		Path    string `json:"path"`
		RepoTag string `json:"repoTag"`
	} `json:"saveDocker25"`
}

type layerFile struct {
	Digest string `json:"digest"` // of the gzip blob
	Size   int64  `json:"size"`
	DiffID string `json:"diffId"` // of the tar
	TarLen int64  `json:"tarLen"`
}

// ImageResult describes the generated image.
type ImageResult struct {
	Digest       string      `json:"digest"`
	Size         int         `json:"size"`
	MediaType    string      `json:"mediaType"`
	Arch         string      `json:"arch"`
	ConfigDigest string      `json:"configDigest"`
	BlobBytes    int64       `json:"blobBytes"`
	Layers       []layerFile `json:"layers"`
	Dir          string      `json:"dir"`
	SavePath     string      `json:"savePath,omitempty"`
	Docker25     *Docker25   `json:"docker25,omitempty"`
}

const (
	mtManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mtConfig   = "application/vnd.docker.container.image.v1+json"
	mtLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mtList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

func runImage(spec ImageSpec) (*ImageResult, error) {
	img, err := generate(spec)
	if err != nil {
		return nil, err
	}
	if spec.Push != nil {
		if err := push(spec, img); err != nil {
			return nil, err
		}
	}
	if spec.Save != nil {
		if err := save(img, spec.Save.Path, spec.Save.RepoTag); err != nil {
			return nil, err
		}
		img.SavePath = spec.Save.Path
	}
	if spec.SaveDocker25 != nil {
		d, err := saveDocker25(img, spec.SaveDocker25.Path, spec.SaveDocker25.RepoTag)
		if err != nil {
			return nil, err
		}
		img.Docker25 = d
	}
	return img, nil
}

func digestOf(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

// generate writes layer-N.tar, layer-N.tar.gz, config.json and manifest.json into a cache
// folder named after the spec, unless they are there already.
func generate(spec ImageSpec) (*ImageResult, error) {
	key, _ := json.Marshal(struct {
		V      int
		Arch   string
		Layers []int64
		Seed   uint64
	}{2, spec.Arch, spec.Layers, spec.Seed})
	sum := sha256.Sum256(key)
	dir := filepath.Join(spec.Cache, hex.EncodeToString(sum[:8]))
	metaPath := filepath.Join(dir, "image.json")
	if b, err := os.ReadFile(metaPath); err == nil {
		var img ImageResult
		if json.Unmarshal(b, &img) == nil {
			return &img, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	img := &ImageResult{Arch: spec.Arch, MediaType: mtManifest, Dir: dir}
	for i, n := range spec.Layers {
		l, err := makeLayer(dir, i, n, spec.Seed)
		if err != nil {
			return nil, err
		}
		img.Layers = append(img.Layers, l)
	}
	diffIDs := make([]string, len(img.Layers))
	history := make([]map[string]string, len(img.Layers))
	for i, l := range img.Layers {
		diffIDs[i] = l.DiffID
		history[i] = map[string]string{"created": "2024-01-01T00:00:00Z", "created_by": "bench"}
	}
	config, _ := json.Marshal(map[string]any{
		"architecture": spec.Arch,
		"os":           "linux",
		"created":      "2024-01-01T00:00:00Z",
		"config":       map[string]any{"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, "Cmd": []string{"/bin/true"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history":      history,
	})
	ch := sha256.Sum256(config)
	img.ConfigDigest = "sha256:" + hex.EncodeToString(ch[:])
	layers := make([]map[string]any, len(img.Layers))
	img.BlobBytes = int64(len(config))
	for i, l := range img.Layers {
		layers[i] = map[string]any{"mediaType": mtLayer, "size": l.Size, "digest": l.Digest}
		img.BlobBytes += l.Size
	}
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mtManifest,
		"config":        map[string]any{"mediaType": mtConfig, "size": len(config), "digest": img.ConfigDigest},
		"layers":        layers,
	})
	mh := sha256.Sum256(manifest)
	img.Digest, img.Size = "sha256:"+hex.EncodeToString(mh[:]), len(manifest)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), config, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), manifest, 0o644); err != nil {
		return nil, err
	}
	meta, _ := json.MarshalIndent(img, "", "  ")
	return img, os.WriteFile(metaPath, meta, 0o644)
}

// makeLayer writes a tar holding one file of n random bytes, and its gzip (fastest level:
// random data does not compress, and the copiers never decompress registry blobs).
func makeLayer(dir string, i int, n int64, seed uint64) (layerFile, error) {
	var l layerFile
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	binary.LittleEndian.PutUint64(s[8:], uint64(i))
	rnd := rand.NewChaCha8(s)

	tarPath := filepath.Join(dir, fmt.Sprintf("layer-%d.tar", i))
	f, err := os.Create(tarPath)
	if err != nil {
		return l, err
	}
	dh := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, dh), 1<<20)
	tw := tar.NewWriter(bw)
	hdr := &tar.Header{Name: fmt.Sprintf("data-%d-%d.bin", seed, i), Mode: 0o644, Size: n, Typeflag: tar.TypeReg,
		ModTime: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return l, err
	}
	if _, err := io.CopyN(tw, rnd, n); err != nil {
		return l, err
	}
	if err := tw.Close(); err != nil {
		return l, err
	}
	if err := bw.Flush(); err != nil {
		return l, err
	}
	st, _ := f.Stat()
	l.TarLen = st.Size()
	if err := f.Close(); err != nil {
		return l, err
	}
	l.DiffID = digestOf(dh)

	in, err := os.Open(tarPath)
	if err != nil {
		return l, err
	}
	defer in.Close()
	out, err := os.Create(tarPath + ".gz")
	if err != nil {
		return l, err
	}
	gh := sha256.New()
	cw := &countWriter{w: io.MultiWriter(out, gh)}
	gz, _ := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	if _, err := io.Copy(gz, bufio.NewReaderSize(in, 1<<20)); err != nil {
		return l, err
	}
	if err := gz.Close(); err != nil {
		return l, err
	}
	if err := out.Close(); err != nil {
		return l, err
	}
	l.Digest, l.Size = digestOf(gh), cw.n
	return l, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// push uploads the blobs (monolithic POST + PUT, skipped when present) and the manifest.
func push(spec ImageSpec, img *ImageResult) error {
	p := spec.Push
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(p.CA)
	if err != nil {
		return err
	}
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, WriteBufferSize: 256 << 10, ReadBufferSize: 64 << 10,
	}}
	base := "https://" + p.Registry + "/v2/" + p.Repo
	do := func(method, u string, body io.Reader, size int64, ctype string) (*http.Response, error) {
		req, err := http.NewRequest(method, u, body)
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(p.User, p.Password)
		if body != nil {
			req.ContentLength = size
			req.Header.Set("Content-Type", ctype)
		}
		res, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res, nil
	}
	upload := func(digest string, open func() (io.ReadCloser, error), size int64) error {
		res, err := do(http.MethodHead, base+"/blobs/"+digest, nil, 0, "")
		if err != nil {
			return err
		}
		if res.StatusCode == http.StatusOK {
			return nil
		}
		res, err = do(http.MethodPost, base+"/blobs/uploads/", nil, 0, "")
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusAccepted {
			return fmt.Errorf("upload start: %s", res.Status)
		}
		loc, err := url.Parse(res.Header.Get("Location"))
		if err != nil {
			return err
		}
		loc = (&url.URL{Scheme: "https", Host: p.Registry}).ResolveReference(loc)
		q := loc.Query()
		q.Set("digest", digest)
		loc.RawQuery = q.Encode()
		body, err := open()
		if err != nil {
			return err
		}
		defer body.Close()
		res, err = do(http.MethodPut, loc.String(), body, size, "application/octet-stream")
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusCreated {
			return fmt.Errorf("upload %s: %s", digest, res.Status)
		}
		return nil
	}
	for i, l := range img.Layers {
		path := filepath.Join(img.Dir, fmt.Sprintf("layer-%d.tar.gz", i))
		if err := upload(l.Digest, func() (io.ReadCloser, error) { return os.Open(path) }, l.Size); err != nil {
			return err
		}
	}
	config, err := os.ReadFile(filepath.Join(img.Dir, "config.json"))
	if err != nil {
		return err
	}
	if err := upload(img.ConfigDigest, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(config)), nil }, int64(len(config))); err != nil {
		return err
	}
	manifest, err := os.ReadFile(filepath.Join(img.Dir, "manifest.json"))
	if err != nil {
		return err
	}
	ref := p.Tag
	if ref == "" {
		ref = img.Digest
	}
	res, err := do(http.MethodPut, base+"/manifests/"+ref, bytes.NewReader(manifest), int64(len(manifest)), mtManifest)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusCreated {
		return fmt.Errorf("manifest PUT: %s", res.Status)
	}
	if got := res.Header.Get("Docker-Content-Digest"); got != img.Digest {
		return fmt.Errorf("registry digest %s != %s", got, img.Digest)
	}
	return nil
}

// save writes a `docker save` tarball (legacy layout: <diffid>/layer.tar, <config>.json,
// manifest.json), the format CDK's S3ArchiveName points at.
func save(img *ImageResult, path, repoTag string) error {
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return nil // same spec, same bytes
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(bw)
	mod := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	addBytes := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg, ModTime: mod}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	config, err := os.ReadFile(filepath.Join(img.Dir, "config.json"))
	if err != nil {
		return err
	}
	configName := img.ConfigDigest[7:] + ".json"
	if err := addBytes(configName, config); err != nil {
		return err
	}
	var layers []string
	for i, l := range img.Layers {
		name := l.DiffID[7:] + "/layer.tar"
		layers = append(layers, name)
		in, err := os.Open(filepath.Join(img.Dir, fmt.Sprintf("layer-%d.tar", i)))
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: l.TarLen, Typeflag: tar.TypeReg, ModTime: mod}); err != nil {
			return err
		}
		if _, err := io.Copy(tw, in); err != nil {
			return err
		}
		in.Close()
	}
	m, _ := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{repoTag}, "Layers": layers}})
	if err := addBytes("manifest.json", m); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return os.Rename(tmp, path)
}
