package copier

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/props"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// A source registry that completes TLS and then never answers: the copy fails with the
// stall, naming the host, after the attempts (3 x N) instead of at the Lambda deadline.
func TestCopyFromRegistryThatNeverAnswers(t *testing.T) {
	const idle = 300 * time.Millisecond
	dst := newRegistry(t)

	release := make(chan struct{})
	var requests atomic.Int32
	hang := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	hangHost := strings.TrimPrefix(hang.URL, "https://")

	// The same with a raw TLS listener that completes the handshake and never reads or writes.
	raw, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: hang.TLS.Certificates})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	var handshakes atomic.Int32
	go func() {
		for {
			c, err := raw.Accept()
			if err != nil {
				return
			}
			go func() {
				if c.(*tls.Conn).Handshake() == nil {
					handshakes.Add(1)
				}
				<-release
				c.Close()
			}()
		}
	}()
	rawHost := raw.Addr().(*net.TCPAddr).String()

	c := dst.copier(t)
	c.opts.tlsConfig.RootCAs.AddCert(hang.Certificate())
	for _, tc := range []struct {
		name, host string
		count      func() int32
	}{{"handler never answers", hangHost, requests.Load}, {"raw TLS listener never writes", rawHost, handshakes.Load}} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := c.Copy(withStallTimeout(context.Background(), idle), Job{
				Src: imageRef(t, "docker://"+tc.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+dst.host+"/dst/app:v1"),
				Retry: props.Retry{NumAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
			})
			took := time.Since(start)
			if err == nil {
				t.Fatal("copy succeeded from a registry that never answers")
			}
			if !errors.Is(err, errs.ErrStalled) || !strings.Contains(err.Error(), "no response from "+tc.host+" for 300ms") {
				t.Errorf("err %q: want errs.ErrStalled naming %s", err, tc.host)
			}
			if took < 3*idle || took > 3*idle+5*time.Second {
				t.Errorf("failed after %v, want about 3 x %v", took, idle)
			}
			if n := tc.count(); n < 3 {
				t.Errorf("%d connections answered at the TLS level, want one per attempt (3)", n)
			}
			t.Logf("%v: %v", took.Round(time.Millisecond), err)
		})
	}
}

// In the direct path the stalled call's host is named: a blob GET that never answers is the
// source's, an upload that is never answered the destination's.
func TestDirectCopyStallNamesTheStalledSide(t *testing.T) {
	const idle = 400 * time.Millisecond
	for _, side := range []string{"source blob GET", "destination upload"} {
		t.Run(side, func(t *testing.T) {
			src, dst := newRegistry(t), newRegistry(t)
			src.pushImage(t, "src/app:v1", randomImage(t, 2))
			release := make(chan struct{})
			t.Cleanup(func() { close(release) }) // before the servers close (cleanups run last first)
			block := func(w http.ResponseWriter, r *http.Request) bool {
				_, _ = io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-release:
				}
				return true
			}
			want := src.host
			if side == "source blob GET" {
				src.setHook(func(w http.ResponseWriter, r *http.Request) bool {
					if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
						return block(w, r)
					}
					return false
				})
			} else {
				want = dst.host
				dst.setHook(func(w http.ResponseWriter, r *http.Request) bool {
					if r.Method == http.MethodPatch || (r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads")) {
						return block(w, r)
					}
					return false
				})
			}
			c := src.copier(t)
			c.opts.tlsConfig.RootCAs.AddCert(dst.srv.Certificate())
			_, err := c.Copy(withStallTimeout(context.Background(), idle), Job{
				Src: imageRef(t, "docker://"+src.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+dst.host+"/dst/app:v1"), Retry: testRetry(),
			})
			if !errors.Is(err, errs.ErrStalled) || !strings.Contains(err.Error(), "no response from "+want+" for") {
				t.Fatalf("err %v: want errs.ErrStalled naming %s", err, want)
			}
		})
	}
}

// A registry that trickles (a few bytes at a time, never silent for N) is slow, not stalled.
func TestTricklingRegistryIsNotStalled(t *testing.T) {
	const idle = 400 * time.Millisecond
	src, dst := newRegistry(t), newRegistry(t)
	src.pushImage(t, "src/app:v1", randomImage(t, 1))
	client := &http.Client{Transport: src.srv.Client().Transport}
	var trickled atomic.Int32
	src.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/sha256:") || r.Header.Get("X-Bypass") != "" {
			return false
		}
		// The blob's first byte comes late (but within N), then 512 bytes every 150 ms.
		time.Sleep(idle * 3 / 4)
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, src.srv.URL+r.URL.Path, nil)
		req.Header.Set("X-Bypass", "1")
		resp, err := client.Do(req)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		trickled.Add(1)
		for len(body) > 0 {
			n := min(512, len(body))
			if _, err := w.Write(body[:n]); err != nil {
				return true
			}
			w.(http.Flusher).Flush()
			body = body[n:]
			if len(body) > 0 {
				time.Sleep(150 * time.Millisecond)
			}
		}
		return true
	})
	c := src.copier(t)
	c.opts.tlsConfig.RootCAs.AddCert(dst.srv.Certificate())
	start := time.Now()
	res, err := c.Copy(withStallTimeout(context.Background(), idle), Job{
		Src: imageRef(t, "docker://"+src.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+dst.host+"/dst/app:v1"),
		Retry: props.Retry{NumAttempts: 1},
	})
	if err != nil {
		t.Fatalf("a trickling registry failed the copy: %v", err)
	}
	if trickled.Load() < 2 || time.Since(start) < 2*idle {
		t.Errorf("the trickle was not exercised (%d blobs in %v)", trickled.Load(), time.Since(start))
	}
	if dst.digestOfTag(t, "dst/app:v1") != res.Digest {
		t.Error("destination does not hold the image")
	}
}

// S3 requests made in a watched attempt (awsenv's clients) are its activity: a body read of
// several seconds in small pieces never trips a short watch, and a waiting S3 request is
// named by its endpoint.
func TestS3ReadsAreActivity(t *testing.T) {
	testenv.NeedMoto(t)
	ctx := context.Background()
	client, err := awsenv.S3(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("stall")}); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("x", 64<<10)
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("stall"), Key: aws.String("k"), Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	wctx, w := newStallWatch(ctx, 300*time.Millisecond, "s3://stall")
	defer w.stop()
	out, err := client.GetObject(wctx, &s3.GetObjectInput{Bucket: aws.String("stall"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	// Reads of 4 KiB every 100ms: 1.6s in all, never 300ms without bytes.
	buf := make([]byte, 4<<10)
	total := 0
	for {
		time.Sleep(100 * time.Millisecond)
		n, err := out.Body.Read(buf)
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v (cause %v)", total, err, context.Cause(wctx))
		}
	}
	if total != len(body) || wctx.Err() != nil {
		t.Fatalf("read %d of %d bytes; watch: %v", total, len(body), context.Cause(wctx))
	}
	// A waiting S3 call is named by its endpoint.
	done := w.Waiting("stall.s3.example")
	<-wctx.Done()
	done(false)
	if got := context.Cause(wctx).Error(); !strings.Contains(got, "no response from stall.s3.example for 300ms") {
		t.Errorf("cause %q", got)
	}
}

// A layer gzipped on the way is uploaded with its size unknown (-1); the registry's commit of
// it still gets the grace for the bytes it took. Here the real registry answers the commit
// (PUT ?digest=) of the gzipped layer only after a silence of 3 x the idle timeout, within the
// grace its size earns at the test's slow commit rate.
func TestGzippedUploadGetsCommitGrace(t *testing.T) {
	const (
		idle  = 400 * time.Millisecond
		delay = 3 * idle
		rate  = 128 << 10 // bytes per second
	)
	tarball, configs, err := testenv.DockerSave(testenv.SaveImage{
		RepoTags: []string{"app:latest"}, LayerSizes: []int{2 << 20}, Layout: "legacy", Seed: 31, Text: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	gz := gzipSize(t, layerTars(t, tarball)[0], gzipLevel)
	if g := commitGraceAt(gz, rate); g < delay+time.Second {
		t.Fatalf("the gzipped layer (%d bytes) earns %v at %d B/s: too little for the test", gz, g, rate)
	}
	reg := newDistRegistry(t)
	var slowed atomic.Int32
	reg.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.URL.Query().Get("digest") != configs[0] {
			slowed.Add(1)
			time.Sleep(delay)
		}
		return false
	})
	c := reg.copier(t)
	c.opts.S3 = putArchives(t, "gzgrace", map[string][]byte{"img.tar": tarball})
	ctx := withCommitRate(withStallTimeout(context.Background(), idle), rate)
	res, err := c.Copy(ctx, Job{Src: s3Ref(t, c, "s3://gzgrace/img.tar"), Dest: imageRef(t, "docker://"+reg.host+"/gz/app:v1"),
		Retry: props.Retry{NumAttempts: 1}})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if slowed.Load() != 1 {
		t.Errorf("%d commits slowed, want the gzipped layer's", slowed.Load())
	}
	reg.setHook(nil)
	img, err := remoteImage(reg, t, "gz/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) != 1 || m.Layers[0].Size != gz || reg.digestOfTag(t, "gz/app:v1") != res.Digest {
		t.Errorf("layers %+v, want the one layer gzipped (%d bytes) under %s", m.Layers, gz, res.Digest)
	}
}
