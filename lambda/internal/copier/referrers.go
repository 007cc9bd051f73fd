package copier

// Referrers (CopyReferrers): after the image is in place, the OCI 1.1 referrers of every
// copied manifest (signatures, SBOMs, attestations: manifests whose subject is that digest),
// and cosign's sha256-<hex>.sig, .att and .sbom tags, are copied too.
//
// containers/image has no referrers API, so this side talks through go-containerregistry's
// remote package (already in the module for the tests), with the Job's credentials, the
// same TLS settings and user agent, and under the same retry policy and stall watch as the
// engines (its own retries are turned off: withRetry is the one policy).
//
// Reading: GET /v2/<name>/referrers/<digest> where the source serves it; else the referrers
// tag schema (an OCI index tagged sha256-<hex>). Docker's distribution registry 2.8 (and
// Debian's docker-registry) answers the API with 404, so the tag is what it holds.
// Writing: each referrer is pushed by digest (blobs, then manifest); when the destination has
// no referrers API, go-containerregistry adds it to the destination's sha256-<hex> index tag
// (the tag schema's update), else the registry lists it by itself. cosign tags are merged
// into what the destination holds, never overwritten (referrers_cosign.go).
//
// Missing referrers never fail a copy: nothing listed, a referrers API the source does not
// serve (404, 400, 406: go-containerregistry then reads the tag schema, whose missing tag is
// no referrers), a listed referrer the source no longer has are logged and skipped. A
// listing that fails otherwise (5xx or 429 after the retries, 401/403, a stall), and a
// referrer that exists but cannot be written, fail the copy: the user asked for them
// (CopyReferrers), and a copy that silently lost its signature would fail verification only
// later, far from the cause.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
)

// cosignSuffixes are the tags cosign writes next to a digest: sha256-<hex><suffix>.
var cosignSuffixes = []string{".sig", ".att", ".sbom"}

// maxReferrerDepth bounds referrers of referrers (a signature of an SBOM of the image).
const maxReferrerDepth = 3

// errReferrerGone marks a referrer that is listed but not at the source: skipped, not fatal.
var errReferrerGone = errors.New("listed, but not at the source")

// referrerCopy copies the referrers of one Copy.
type referrerCopy struct {
	c                    *Copier
	job                  Job
	src, dest            name.Repository
	srcLogin, destLogin  *login
	hosts                string
	copied, cosign, gone int
}

// copiedDigests are the manifests of p that are at the destination after the copy: the top
// one (top) and, for an index, its children.
func copiedDigests(p plan, top digest.Digest) []digest.Digest {
	out := []digest.Digest{top}
	switch p.mode {
	case modeImageIndex:
		if list, err := manifest.ListFromBlob(p.top, p.topType); err == nil {
			out = append(out, list.Instances()...)
		}
	case modeFiltered:
		out = append(out, p.children...)
	}
	return out
}

// copyReferrers copies the referrers and cosign tags of digests from the source repository
// to the destination repository.
func (c *Copier) copyReferrers(ctx context.Context, srcNamed, destNamed reference.Named, srcLogin, destLogin *login, job Job, digests []digest.Digest) error {
	src, err := name.NewRepository(reference.TrimNamed(srcNamed).String())
	if err != nil {
		return fmt.Errorf("CopyReferrers: %w", err)
	}
	dest, err := name.NewRepository(reference.TrimNamed(destNamed).String())
	if err != nil {
		return fmt.Errorf("CopyReferrers: %w", err)
	}
	hosts := reference.Domain(srcNamed)
	if h := reference.Domain(destNamed); h != hosts {
		hosts += " or " + h
	}
	r := &referrerCopy{c: c, job: job, src: src, dest: dest, srcLogin: srcLogin, destLogin: destLogin, hosts: hosts}
	seen := map[digest.Digest]bool{}
	level := digests
	for depth := 0; depth < maxReferrerDepth && len(level) > 0; depth++ {
		var next []digest.Digest
		for _, d := range level {
			if seen[d] {
				continue
			}
			seen[d] = true
			found, err := r.forSubject(ctx, d)
			if err != nil {
				return err
			}
			next = append(next, found...)
		}
		level = next
	}
	slog.Info("referrers copied", "referrers", r.copied, "cosign_tags", r.cosign, "listed_but_missing", r.gone,
		"subjects", len(seen))
	return nil
}

// forSubject copies the referrers and cosign tags of one digest and returns the digests of
// the referrers copied (their own referrers come next).
func (r *referrerCopy) forSubject(ctx context.Context, d digest.Digest) ([]digest.Digest, error) {
	var listed []v1.Descriptor
	err := withRetry(ctx, r.job.Retry, "listing the referrers of "+d.String(), stallGuard(r.hosts, func(ctx context.Context) error {
		idx, err := remote.Referrers(r.src.Digest(d.String()), r.options(ctx, r.srcLogin)...)
		if err != nil {
			return err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return err
		}
		listed = im.Manifests
		return nil
	}), r.srcLogin)
	if err != nil {
		// Not "not served": remote.Referrers answers that with the tag schema, not an error.
		return nil, describe(fmt.Errorf("CopyReferrers: %w", err), "listing the referrers of",
			"docker://"+r.src.Digest(d.String()).String(), "SrcCreds")
	}
	var copied []digest.Digest
	for _, desc := range listed {
		rd := digest.Digest(desc.Digest.String())
		err := r.copyOne(ctx, r.src.Digest(rd.String()), r.dest.Digest(rd.String()), "referrer of "+d.String())
		switch {
		case errors.Is(err, errReferrerGone):
			r.gone++
			slog.Warn("a listed referrer is not at the source; skipped", "subject", d.String(), "referrer", rd.String(),
				"artifact_type", desc.ArtifactType)
		case err != nil:
			return nil, err
		default:
			r.copied++
			copied = append(copied, rd)
			slog.Info("referrer copied", "subject", d.String(), "referrer", rd.String(), "artifact_type", desc.ArtifactType)
		}
	}
	for _, suffix := range cosignSuffixes {
		tag := strings.Replace(d.String(), ":", "-", 1) + suffix
		err := r.copyCosignTag(ctx, tag, "cosign tag of "+d.String())
		switch {
		case errors.Is(err, errReferrerGone):
			slog.Debug("no cosign tag", "tag", tag)
		case err != nil:
			return nil, err
		default:
			r.cosign++
			slog.Info("cosign tag copied", "tag", tag)
		}
	}
	return copied, nil
}

// copyOne copies one manifest (an image or an index, with its blobs) from src to dest;
// errReferrerGone when src does not exist.
func (r *referrerCopy) copyOne(ctx context.Context, src, dest name.Reference, what string) error {
	gone := false
	err := withRetry(ctx, r.job.Retry, "copying "+what, stallGuard(r.hosts, func(ctx context.Context) error {
		desc, err := remote.Get(src, r.options(ctx, r.srcLogin)...)
		if err != nil {
			if isNotFound(err) {
				gone = true
				return nil
			}
			return err
		}
		if desc.MediaType.IsIndex() || desc.MediaType.IsImage() {
			return writeDescriptor(dest, desc, r.options(ctx, r.destLogin))
		}
		return fmt.Errorf("%w: %s is %s, neither an image manifest nor an index", errs.ErrInvalidProperty, src, desc.MediaType)
	}), r.srcLogin, r.destLogin)
	if gone {
		return errReferrerGone
	}
	if err != nil {
		return describe(fmt.Errorf("CopyReferrers: %w", err), "copying the "+what, "docker://"+dest.String(), "DestCreds")
	}
	return nil
}

// options are go-containerregistry's options for one attempt with l's current credentials.
func (r *referrerCopy) options(ctx context.Context, l *login) []remote.Option {
	auth := authn.Anonymous
	l.mu.Lock()
	if cur := l.creds.Current; cur != nil && (cur.Username != "" || cur.Password != "") {
		auth = authn.FromConfig(authn.AuthConfig{Username: cur.Username, Password: cur.Password})
	}
	l.mu.Unlock()
	base := http.DefaultTransport.(*http.Transport).Clone()
	if r.c.opts.tlsConfig != nil {
		base.TLSClientConfig = r.c.opts.tlsConfig.Clone()
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(auth),
		remote.WithUserAgent(r.c.opts.UserAgent),
		remote.WithTransport(watchedTransport{base}),
		// withRetry is the one retry policy.
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithJobs(int(r.c.opts.MaxParallel)),
	}
}

// watchedTransport reports every request and body read to the attempt's stall watch
// (stall.go), as the engines' watched sources do: a request waits on its host until
// answered, and each read of the answer's body too.
type watchedTransport struct{ base http.RoundTripper }

func (t watchedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	w := stallWatchOf(req.Context())
	if w == nil {
		return t.base.RoundTrip(req)
	}
	o := w.op(req.URL.Host)
	o.wait(0)
	resp, err := t.base.RoundTrip(req)
	o.got()
	if resp != nil && resp.Body != nil {
		resp.Body = &watchedBody{rc: resp.Body, op: w.op(req.URL.Host)}
	}
	return resp, err
}
