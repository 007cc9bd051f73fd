package copier

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// testRegistry is an in-process registry (go-containerregistry) served over
// TLS, with counters of the requests it saw; or (newDistRegistry) a real
// docker-registry behind testenv's counting proxy.
type testRegistry struct {
	srv    *httptest.Server
	env    *testenv.Registry // the real registry; nil for the in-process one
	client http.RoundTripper // trusts env's CA
	host   string
	writes atomic.Int64 // PUT, POST, PATCH, DELETE
	mu     sync.Mutex
	log    []string
	// hook may answer a request itself (return true) to inject failures.
	hook func(w http.ResponseWriter, r *http.Request) bool
	// auth, when set, is the required "user:password" (Basic).
	auth string
}

func newRegistry(t *testing.T, opts ...registry.Option) *testRegistry {
	t.Helper()
	reg := registry.New(append([]registry.Option{registry.Logger(log.New(io.Discard, "", 0))}, opts...)...)
	tr := &testRegistry{}
	tr.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tr.auth != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u+":"+p != tr.auth {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
		}
		tr.mu.Lock()
		tr.log = append(tr.log, r.Method+" "+r.URL.Path)
		h := tr.hook
		tr.mu.Unlock()
		switch r.Method {
		case http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete:
			tr.writes.Add(1)
		}
		if h != nil && h(w, r) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(tr.srv.Close)
	tr.host = strings.TrimPrefix(tr.srv.URL, "https://")
	return tr
}

// newDistRegistry starts a real docker-registry (testenv.StartRegistry): blobs scoped per
// repository, digests verified when an upload is committed, manifests refused when a blob is
// missing, cross-repository mounts. Tests of what a registry allows use it.
func newDistRegistry(t *testing.T) *testRegistry {
	t.Helper()
	env := testenv.StartRegistry(t)
	return &testRegistry{env: env, host: env.Host, client: env.Transport()}
}

func (tr *testRegistry) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	if tr.env != nil {
		tr.env.SetHook(h)
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.hook = h
}

// requests lists the requests seen as "METHOD /path".
func (tr *testRegistry) requests() []string {
	if tr.env != nil {
		var out []string
		for _, r := range tr.env.Requests() {
			out = append(out, r.Method+" "+r.Path)
		}
		return out
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.log...)
}

// resetLog forgets the requests seen so far.
func (tr *testRegistry) resetLog() {
	if tr.env != nil {
		tr.env.ResetLog()
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.log = nil
}

// tlsConfig trusts the registry's certificate.
func (tr *testRegistry) tlsConfig() *tls.Config {
	if tr.env != nil {
		return tr.env.TLSConfig()
	}
	pool := x509.NewCertPool()
	pool.AddCert(tr.srv.Certificate())
	return &tls.Config{RootCAs: pool}
}

func (tr *testRegistry) copier(t *testing.T) *Copier {
	t.Helper()
	c := New(Options{})
	c.opts.tlsConfig = tr.tlsConfig()
	return c
}

func (tr *testRegistry) ref(t *testing.T, repoTag string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(tr.host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (tr *testRegistry) remoteOpts() []remote.Option {
	transport := tr.client
	if tr.env == nil {
		transport = tr.srv.Client().Transport
	}
	opts := []remote.Option{remote.WithTransport(transport)}
	if tr.auth != "" {
		u, p, _ := strings.Cut(tr.auth, ":")
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: u, Password: p}))
	}
	return opts
}

func (tr *testRegistry) pushImage(t *testing.T, repoTag string, img v1.Image) v1.Hash {
	t.Helper()
	if err := remote.Write(tr.ref(t, repoTag), img, tr.remoteOpts()...); err != nil {
		t.Fatalf("pushing %s: %v", repoTag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (tr *testRegistry) pushIndex(t *testing.T, repoTag string, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	if err := remote.WriteIndex(tr.ref(t, repoTag), idx, tr.remoteOpts()...); err != nil {
		t.Fatalf("pushing %s: %v", repoTag, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// digestOfTag returns the digest a tag points at, or "" if it does not exist.
func (tr *testRegistry) digestOfTag(t *testing.T, repoTag string) string {
	t.Helper()
	desc, err := remote.Head(tr.ref(t, repoTag), tr.remoteOpts()...)
	if err != nil {
		return ""
	}
	return desc.Digest.String()
}

func (tr *testRegistry) index(t *testing.T, repoTag string) *v1.IndexManifest {
	t.Helper()
	idx, err := remote.Index(tr.ref(t, repoTag), tr.remoteOpts()...)
	if err != nil {
		t.Fatalf("reading index %s: %v", repoTag, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func randomImage(t *testing.T, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(2048, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// attestation builds a BuildKit-style attestation manifest.
func attestation(t *testing.T) v1.Image {
	t.Helper()
	l := static.NewLayer([]byte(`{"_type":"https://in-toto.io/Statement/v0.1"}`), "application/vnd.in-toto+json")
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: l})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, ggcrtypes.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, ggcrtypes.OCIConfigJSON)
}

type platformed struct {
	img      v1.Image
	platform v1.Platform
	ann      map[string]string
}

// multiArch pushes an OCI index of images with the given platforms and
// returns the index digest and the child digests by "os/arch[/variant]".
func (tr *testRegistry) multiArch(t *testing.T, repoTag string, kids []platformed) (v1.Hash, map[string]string) {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, ggcrtypes.OCIImageIndex)
	digests := map[string]string{}
	for _, k := range kids {
		img := mutate.MediaType(k.img, ggcrtypes.OCIManifestSchema1)
		if _, ok := k.ann["vnd.docker.reference.type"]; !ok {
			img = mutate.ConfigMediaType(img, ggcrtypes.OCIConfigJSON)
		}
		p := k.platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p, Annotations: k.ann}})
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		key := p.OS + "/" + p.Architecture
		if p.Variant != "" {
			key += "/" + p.Variant
		}
		digests[key] = d.String()
	}
	return tr.pushIndex(t, repoTag, idx), digests
}

func linux(arch, variant string) v1.Platform {
	return v1.Platform{OS: "linux", Architecture: arch, Variant: variant}
}

func attestationKid(t *testing.T, subject string) platformed {
	return platformed{img: attestation(t), platform: v1.Platform{OS: "unknown", Architecture: "unknown"},
		ann: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": subject}}
}

func remoteImage(tr *testRegistry, t *testing.T, repoTag string) (v1.Image, error) {
	return remote.Image(tr.ref(t, repoTag), tr.remoteOpts()...)
}

// imageRef parses a docker:// name for a Job.
func imageRef(t testing.TB, name string) types.ImageReference {
	t.Helper()
	ref, err := ParseImageName(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}
