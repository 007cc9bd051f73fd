package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"syscall"
	"time"
)

// FloorSpec describes the least work any copier must do for a single-image copy between two
// registries: GET every blob from the source and stream it into a destination upload (POST,
// PATCH, PUT), all blobs at once, then PUT the manifest (an index: its children, then it). No process start, no auth round
// trips (Basic credentials are sent up front), no hashing, no retries. Its wall time is the
// registries' and the machine's limit, which no copier can beat.
type FloorSpec struct {
	Src      string `json:"src"` // host:port
	SrcRepo  string `json:"srcRepo"`
	Ref      string `json:"ref"` // tag or digest
	Dst      string `json:"dst"`
	DstRepo  string `json:"dstRepo"`
	Tag      string `json:"tag"`
	User     string `json:"user"`
	Password string `json:"password"`
	CA       string `json:"ca"`
}

// FloorResult is what the floor copy took.
type FloorResult struct {
	WallMs float64 `json:"wallMs"`
	CPUSec float64 `json:"cpuSec"`
	Blobs  int     `json:"blobs"`
	Bytes  int64   `json:"bytes"`
}

func runFloor(s FloorSpec) (*FloorResult, error) {
	ca, err := os.ReadFile(s.CA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 16}}
	do := func(method, u string, hdr map[string]string, body io.Reader, size int64) (*http.Response, error) {
		req, err := http.NewRequest(method, u, body)
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(s.User, s.Password)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		if body != nil {
			req.ContentLength = size
		}
		return client.Do(req)
	}
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()

	type blob struct {
		digest string
		size   int64
	}
	type manifestDoc struct {
		ref, mediaType string
		body           []byte
	}
	getManifest := func(ref string) (manifestDoc, error) {
		res, err := do(http.MethodGet, "https://"+s.Src+"/v2/"+s.SrcRepo+"/manifests/"+ref,
			map[string]string{"Accept": mtManifest + ", " + mtList + ", application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"}, nil, 0)
		if err != nil {
			return manifestDoc{}, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			return manifestDoc{}, fmt.Errorf("manifest %s: %s", ref, res.Status)
		}
		return manifestDoc{ref: ref, mediaType: res.Header.Get("Content-Type"), body: b}, err
	}
	top, err := getManifest(s.Ref)
	if err != nil {
		return nil, err
	}
	// An index: its children (by digest) first, the index itself last.
	images := []manifestDoc{top}
	var list struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(top.body, &list); err == nil && len(list.Manifests) > 0 {
		images = nil
		for _, c := range list.Manifests {
			m, err := getManifest(c.Digest)
			if err != nil {
				return nil, err
			}
			images = append(images, m)
		}
	}
	var blobs []blob
	for _, img := range images {
		var m struct {
			Config struct {
				Digest string `json:"digest"`
				Size   int64  `json:"size"`
			} `json:"config"`
			Layers []struct {
				Digest string `json:"digest"`
				Size   int64  `json:"size"`
			} `json:"layers"`
		}
		if err := json.Unmarshal(img.body, &m); err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		blobs = append(blobs, blob{m.Config.Digest, m.Config.Size})
		for _, l := range m.Layers {
			blobs = append(blobs, blob{l.Digest, l.Size})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(blobs))
	var total int64
	for _, b := range blobs {
		total += b.size
		wg.Add(1)
		go func(b blob) {
			defer wg.Done()
			errs <- func() error {
				r, err := do(http.MethodPost, "https://"+s.Dst+"/v2/"+s.DstRepo+"/blobs/uploads/", nil, nil, 0)
				if err != nil {
					return err
				}
				r.Body.Close()
				loc, err := url.Parse(r.Header.Get("Location"))
				if err != nil {
					return err
				}
				base := &url.URL{Scheme: "https", Host: s.Dst}
				get, err := do(http.MethodGet, "https://"+s.Src+"/v2/"+s.SrcRepo+"/blobs/"+b.digest, nil, nil, 0)
				if err != nil {
					return err
				}
				defer get.Body.Close()
				p, err := do(http.MethodPatch, base.ResolveReference(loc).String(), map[string]string{"Content-Type": "application/octet-stream"}, get.Body, b.size)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, p.Body)
				p.Body.Close()
				loc, err = url.Parse(p.Header.Get("Location"))
				if err != nil {
					return err
				}
				u := base.ResolveReference(loc)
				q := u.Query()
				q.Set("digest", b.digest)
				u.RawQuery = q.Encode()
				put, err := do(http.MethodPut, u.String(), nil, nil, 0)
				if err != nil {
					return err
				}
				put.Body.Close()
				if put.StatusCode != http.StatusCreated {
					return fmt.Errorf("blob %s: %s", b.digest, put.Status)
				}
				return nil
			}()
		}(b)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	putManifest := func(ref string, m manifestDoc) error {
		res, err := do(http.MethodPut, "https://"+s.Dst+"/v2/"+s.DstRepo+"/manifests/"+ref, map[string]string{"Content-Type": m.mediaType},
			bytes.NewReader(m.body), int64(len(m.body)))
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			return fmt.Errorf("manifest PUT %s: %s", ref, res.Status)
		}
		return nil
	}
	if images[0].ref != top.ref {
		for _, m := range images {
			if err := putManifest(m.ref, m); err != nil {
				return nil, err
			}
		}
	}
	if err := putManifest(s.Tag, top); err != nil {
		return nil, err
	}
	wall := time.Since(start)
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := tv(ru1.Utime) + tv(ru1.Stime) - tv(ru0.Utime) - tv(ru0.Stime)
	return &FloorResult{WallMs: float64(wall.Microseconds()) / 1000, CPUSec: cpu, Blobs: len(blobs), Bytes: total}, nil
}
