package copier

import (
	"fmt"
	"strings"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	ociarchive "go.podman.io/image/v5/oci/archive"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/s3archive"
)

// ParseImageName parses "transport:reference" for the transports this
// handler ships (docker, s3, docker-archive, oci-archive). It replaces
// containers/image's alltransports, which would link every transport.
func ParseImageName(name string, s3 s3archive.ClientFor) (types.ImageReference, error) {
	transport, within, ok := strings.Cut(name, ":")
	if !ok {
		return nil, fmt.Errorf("%w: %q has no transport; use docker://, s3://, docker-archive: or oci-archive:", errs.ErrInvalidProperty, name)
	}
	var (
		ref types.ImageReference
		err error
	)
	switch transport {
	case "docker":
		// docker.ParseReference normalizes short names (nginx ->
		// docker.io/library/nginx:latest).
		ref, err = docker.ParseReference(within)
	case s3archive.TransportName:
		if s3 == nil {
			return nil, fmt.Errorf("%w: %q: no S3 client configured", errs.ErrInvalidProperty, name)
		}
		ref, err = s3archive.Transport{Clients: s3}.ParseReference(within)
	case "docker-archive":
		ref, err = dockerarchive.ParseReference(within)
	case "oci-archive":
		ref, err = ociarchive.ParseReference(within)
	default:
		return nil, fmt.Errorf("%w: %q: unsupported transport %q", errs.ErrInvalidProperty, name, transport)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: parsing %q: %v", errs.ErrInvalidProperty, name, err)
	}
	return ref, nil
}

// RegistryReference is the containers/image reference of a registry image named (parsed
// once, by props): the default tag is added when named has neither tag nor digest.
func RegistryReference(named reference.Named) (types.ImageReference, error) {
	ref, err := docker.NewReference(reference.TagNameOnly(named))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errs.ErrInvalidProperty, named, err)
	}
	return ref, nil
}

// ParseSource parses an archive source ("s3://...", "docker-archive:...", "oci-archive:...")
// with the copier's S3 clients; registry sources go through RegistryReference.
func (c *Copier) ParseSource(name string) (types.ImageReference, error) {
	return ParseImageName(name, c.opts.S3)
}

// isRegistry reports whether ref reads from a registry, where manifests can
// be copied byte for byte.
func isRegistry(ref types.ImageReference) bool {
	return ref.Transport().Name() == docker.Transport.Name()
}

// byteForByte reports whether the source serves manifests whose digests a copy must keep: a
// registry, or an S3 archive in OCI image layout (Docker 25+ docker save, oci-archive), once
// planning has opened it.
func byteForByte(ref types.ImageReference) bool {
	return isRegistry(ref) || s3archive.KeepsDigests(ref)
}

// dockerNamed returns the registry name of a docker:// reference.
func dockerNamed(ref types.ImageReference) (reference.Named, error) {
	named := ref.DockerReference()
	if named == nil || !isRegistry(ref) {
		return nil, fmt.Errorf("%w: %s is not a registry reference", errs.ErrInvalidProperty, ref.StringWithinTransport())
	}
	return named, nil
}

// withTag is repo:tag in the repository of named, whatever named carries
// (host:port, tag or digest).
func withTag(named reference.Named, tag string) (types.ImageReference, error) {
	tagged, err := reference.WithTag(reference.TrimNamed(named), tag)
	if err != nil {
		return nil, fmt.Errorf("%w: tag %q for %s: %v", errs.ErrInvalidProperty, tag, named.Name(), err)
	}
	return docker.NewReference(tagged)
}

// withDigest is repo@digest in the repository of named.
func withDigest(named reference.Named, d digest.Digest) (types.ImageReference, error) {
	c, err := reference.WithDigest(reference.TrimNamed(named), d)
	if err != nil {
		return nil, err
	}
	return docker.NewReference(c)
}

// pinned is the digest-pinned form of named without a transport prefix,
// e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:....
func pinned(named reference.Named, d digest.Digest) string {
	c, err := reference.WithDigest(reference.TrimNamed(named), d)
	if err != nil {
		return reference.TrimNamed(named).String() + "@" + d.String()
	}
	return c.String()
}

// display renders a reference for messages, always with the transport.
func display(ref types.ImageReference) string {
	if isRegistry(ref) {
		return "docker://" + ref.DockerReference().String()
	}
	return ref.Transport().Name() + ":" + ref.StringWithinTransport()
}

// tagName is repo:tag in the repository of named, for messages.
func tagName(named reference.Named, tag string) string {
	return reference.TrimNamed(named).String() + ":" + tag
}
