// Package s3archive is a read-only containers/image transport ("s3") for
// `docker save` tarballs stored in S3: s3://bucket/key[:ref].
//
// The archive is never downloaded as a whole and nothing is written to disk:
// tar headers are walked with small ranged GETs (bodies are skipped by
// offset), manifest.json and the config are read with one ranged GET each,
// and every layer is an independent ranged-GET stream, so containers/image
// copies several layers concurrently.
//
// Key versus ref: object keys may contain ':' too, so the part after the
// bucket is resolved against S3. The whole string is tried as the key first,
// then shorter prefixes split at each ':' from the right; the first key that
// exists wins and the remainder is the ref. The ref is "name:tag" (matched
// against RepoTags in manifest.json) or "@N" (the N-th image, from 0), as in
// containers/image's docker-archive transport. Without a ref the archive must
// hold exactly one image.
package s3archive

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/rules"
)

// TransportName is the transport prefix, as in s3://bucket/key.
const TransportName = "s3"

// ClientFor returns an S3 client for a region ("" = the default region).
type ClientFor func(ctx context.Context, region string) (API, error)

// Transport is the "s3" transport. ParseReference needs a client factory,
// so the transport is a value and is not registered globally.
type Transport struct{ Clients ClientFor }

func (t Transport) Name() string { return TransportName }

// ParseReference parses "//bucket/key[:ref]".
func (t Transport) ParseReference(s string) (types.ImageReference, error) {
	rest, ok := strings.CutPrefix(s, "//")
	if !ok {
		return nil, fmt.Errorf("%w: s3 reference %q must look like s3://bucket/key[:ref]", errs.ErrInvalidProperty, s)
	}
	bucket, keyAndRef, _ := strings.Cut(rest, "/")
	if bucket == "" || keyAndRef == "" {
		return nil, fmt.Errorf("%w: s3 reference %q must look like s3://bucket/key[:ref]", errs.ErrInvalidProperty, s)
	}
	return &Reference{transport: t, bucket: bucket, keyAndRef: keyAndRef}, nil
}

func (t Transport) ValidatePolicyConfigurationScope(string) error { return nil }

// Reference is an unresolved s3://bucket/key[:ref]; the key/ref split
// happens when a source is opened, because it needs S3.
type Reference struct {
	transport Transport
	bucket    string
	keyAndRef string

	// opened is the source NewImageSource built: planning and copy.Image both open the
	// source, and indexing the archive (and hashing layers stored compressed under legacy
	// names) is the expensive part, so it is done once per Reference. Sources hold no state
	// that Close releases.
	mu     sync.Mutex
	opened types.ImageSource
}

func (r *Reference) Transport() types.ImageTransport { return r.transport }
func (r *Reference) StringWithinTransport() string   { return "//" + r.bucket + "/" + r.keyAndRef }
func (r *Reference) String() string                  { return TransportName + ":" + r.StringWithinTransport() }

// DockerReference is nil: the image name inside the archive is not known
// until the archive is read, and it is never used as the destination name.
func (r *Reference) DockerReference() reference.Named        { return nil }
func (r *Reference) PolicyConfigurationIdentity() string     { return "" }
func (r *Reference) PolicyConfigurationNamespaces() []string { return nil }

func (r *Reference) NewImage(ctx context.Context, sys *types.SystemContext) (types.ImageCloser, error) {
	src, err := r.NewImageSource(ctx, sys)
	if err != nil {
		return nil, err
	}
	return image.FromSource(ctx, sys, src)
}

func (r *Reference) NewImageDestination(context.Context, *types.SystemContext) (types.ImageDestination, error) {
	return nil, errors.New("s3 archives can only be sources")
}

func (r *Reference) DeleteImage(context.Context, *types.SystemContext) error {
	return errors.New("s3 archives can only be sources")
}

// NewImageSource resolves the key, indexes the archive and selects the image, once per
// Reference (see opened).
func (r *Reference) NewImageSource(ctx context.Context, _ *types.SystemContext) (types.ImageSource, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.opened != nil {
		return r.opened, nil
	}
	obj, ref, err := r.resolve(ctx)
	if err != nil {
		return nil, err
	}
	a, err := indexArchive(ctx, obj)
	if err != nil {
		return nil, err
	}
	var src types.ImageSource
	if a.isLayout() {
		src, err = newLayoutSource(ctx, r, a, ref)
	} else {
		src, err = newSource(ctx, r, a, ref)
	}
	if err != nil {
		return nil, err
	}
	r.opened = src
	return src, nil
}

// KeepsDigests reports whether ref is an S3 archive whose opened source serves the archive's
// own manifests and blobs byte for byte (an OCI image layout), so that a copy must keep their
// digests. Classic archives are described by a manifest built here (see BuildsManifest). It is
// meaningful once the source has been opened.
func KeepsDigests(ref types.ImageReference) bool {
	_, layout := openedSource(ref).(*layoutSource)
	return layout
}

// BuildsManifest reports whether ref is an S3 archive whose opened source describes its image
// with a manifest built here (a docker save archive from before Docker 25): config and layer
// files are the archive's, the layer files mostly uncompressed tars named by their diff_ids.
// It is meaningful once the source has been opened.
func BuildsManifest(ref types.ImageReference) bool {
	_, built := openedSource(ref).(*source)
	return built
}

// openedSource is the source NewImageSource opened for ref, if ref is an S3 archive and one was.
func openedSource(ref types.ImageReference) types.ImageSource {
	r, ok := ref.(*Reference)
	if !ok {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.opened
}

// candidates lists (key, ref) splits, longest key first.
func candidates(keyAndRef string) [][2]string { return rules.S3KeyCandidates(keyAndRef) }

func (r *Reference) resolve(ctx context.Context) (*object, string, error) {
	api, err := r.transport.Clients(ctx, "")
	if err != nil {
		return nil, "", err
	}
	var denied error
	redirected := false
	cands := candidates(r.keyAndRef)
	for i := 0; i < len(cands); i++ {
		key, ref := cands[i][0], cands[i][1]
		out, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(key)})
		if err == nil {
			return &object{api: api, bucket: r.bucket, key: key, size: aws.ToInt64(out.ContentLength)}, ref, nil
		}
		switch status, region := httpStatus(err); {
		case status == http.StatusNotFound:
			continue
		case status == http.StatusForbidden:
			// Without s3:ListBucket, S3 answers 403 for keys that do not
			// exist, so a denied candidate may just be the wrong split.
			denied = err
			continue
		case (status == http.StatusMovedPermanently || status == http.StatusBadRequest) && region != "" && !redirected:
			// The bucket lives in another region than the handler.
			api, err = r.transport.Clients(ctx, region)
			if err != nil {
				return nil, "", err
			}
			redirected = true
			i--
			continue
		default:
			return nil, "", fmt.Errorf("looking up s3://%s/%s: %w", r.bucket, key, err)
		}
	}
	keys := make([]string, len(cands))
	for i, c := range cands {
		keys[i] = c[0]
	}
	if denied != nil {
		return nil, "", fmt.Errorf("%w: access denied reading s3://%s/%s (tried keys %q): grant s3:GetObject on the archive: %v",
			errs.ErrUnauthorized, r.bucket, r.keyAndRef, keys, denied)
	}
	return nil, "", fmt.Errorf("%w: s3://%s/%s does not exist (tried keys %q): check the bucket and key",
		errs.ErrNotFound, r.bucket, r.keyAndRef, keys)
}

func httpStatus(err error) (int, string) {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.HTTPStatusCode(), re.Response.Header.Get("X-Amz-Bucket-Region")
	}
	return 0, ""
}
