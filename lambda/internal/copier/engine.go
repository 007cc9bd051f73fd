package copier

// The choice of engine. chooseEngine is a pure function of what was read from the source
// (and the manifest types the destination takes): it decides, before anything is written,
// whether the direct engine (engine_direct.go) or copy.Image (engine_image.go) copies, and
// says why. transfer runs the choice under the retry policy and logs it.

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/s3archive"
)

// engine is what copies.
type engine int

const (
	// engineImage: copy.Image copies everything.
	engineImage engine = iota
	// engineDirect: the direct engine copies everything.
	engineDirect
	// engineDirectChildren: the direct engine copies the selected children of an index, then
	// copy.Image writes the filtered index (and finds the children in place).
	engineDirectChildren
	// engineBuilt: a docker save archive from before Docker 25, its layers compressed or
	// stored on the way (engine_built.go).
	engineBuilt
)

func (e engine) String() string {
	switch e {
	case engineDirect:
		return "direct"
	case engineDirectChildren:
		return "direct, then copy.Image for the filtered index"
	case engineBuilt:
		return "built"
	}
	return "copy.Image"
}

// sourceManifest is one manifest read from the source.
type sourceManifest struct {
	digest digest.Digest
	bytes  []byte
	mime   string
}

// engineFacts is everything the choice depends on.
type engineFacts struct {
	// keepsBytes: the source's manifests are copied byte for byte and its blobs are named by
	// their digests, which the destination verifies (a registry, or an S3 archive in OCI
	// layout; not a docker save archive from before Docker 25, whose manifest is built and
	// whose layers are gzipped or stored on the way: see built).
	keepsBytes bool
	// built: the source is a docker save archive from before Docker 25, described by a
	// manifest s3archive builds (layers named by diff_id, mostly uncompressed).
	built        bool
	forceFormat  bool // DestManifestFormat asks for a conversion
	destByDigest bool // the destination reference is name@digest
	mode         mode
	top          sourceManifest
	// images are the image manifests to copy: the top one for a single image, else the
	// selected children of the index (read only for a registry source).
	images []sourceManifest
	// accepted are the manifest types the destination takes; nil: any.
	accepted []string
}

// choice is chooseEngine's answer.
type choice struct {
	engine engine
	reason string
	// For the direct engine: what to copy, and the manifest written to the destination
	// reference last (nil for a filtered index).
	images    []directImage
	final     []byte
	finalType string
	// storeLayers (the built engine): layers may be stored uncompressed, which needs an OCI
	// manifest the destination takes.
	storeLayers bool

	// src and dest are open for the direct engine (selectEngine's caller closes dest).
	src  types.ImageSource
	dest types.ImageDestination
}

// decline is copy.Image, for why.
func decline(why string) choice { return choice{engine: engineImage, reason: why} }

// chooseEngine decides which engine copies, and why. It reads and writes nothing.
func chooseEngine(f engineFacts) choice {
	switch {
	case f.forceFormat:
		return decline("DestManifestFormat asks for a conversion")
	case !f.keepsBytes && !f.built:
		return decline("the source is neither a registry nor an S3 archive")
	case f.destByDigest:
		return decline("the destination is given by digest")
	case !manifest.MIMETypeIsMultiImage(f.top.mime) && f.mode != modeSingle:
		return decline("the source is a single image, not an index")
	case f.built:
		return chooseBuilt(f)
	}
	ch := choice{engine: engineDirect, reason: "manifests and blobs kept byte for byte"}
	for _, m := range f.images {
		img, why := parseDirectImage(m.digest, m.bytes, m.mime)
		if why != "" {
			return decline(why)
		}
		ch.images = append(ch.images, img)
	}
	switch {
	case !manifest.MIMETypeIsMultiImage(f.top.mime), f.mode == modeImageIndex:
		ch.final, ch.finalType = f.top.bytes, f.top.mime
	case f.mode == modeSingle && len(f.images) == 1:
		ch.final, ch.finalType = f.images[0].bytes, f.images[0].mime
	case f.mode == modeFiltered:
		ch.engine = engineDirectChildren
		ch.reason = "the selected children go directly; copy.Image writes the filtered index"
	}
	if f.accepted != nil {
		if ch.final != nil && !slices.Contains(f.accepted, ch.finalType) {
			return decline("the destination does not take " + ch.finalType + " manifests")
		}
		for _, img := range ch.images {
			if t := manifest.GuessMIMEType(img.bytes); !slices.Contains(f.accepted, t) {
				return decline("the destination does not take " + t + " manifests")
			}
		}
	}
	return ch
}

// chooseBuilt is chooseEngine for a docker save archive from before Docker 25: one image,
// whose manifest is rebuilt around the layers as written, in the type s3archive built.
func chooseBuilt(f engineFacts) choice {
	if manifest.MIMETypeIsMultiImage(f.top.mime) {
		return decline("the archive's manifest is an index")
	}
	img, why := parseDirectImage(f.top.digest, f.top.bytes, f.top.mime)
	if why != "" {
		return decline(why)
	}
	if f.accepted != nil && !slices.Contains(f.accepted, f.top.mime) {
		return decline("the destination does not take " + f.top.mime + " manifests")
	}
	store := f.accepted == nil || slices.Contains(f.accepted, imgspecv1.MediaTypeImageManifest)
	reason := "layers gzipped, or stored where gzip would not shrink them; the manifest rebuilt around them"
	if !store {
		reason = "layers gzipped (the destination takes no OCI manifest, which a stored layer needs); the manifest rebuilt around them"
	}
	return choice{engine: engineBuilt, reason: reason, images: []directImage{img}, finalType: f.top.mime, storeLayers: store}
}

// selectEngine reads what chooseEngine needs (the selected children of an index, and the
// destination's manifest types) and chooses. For a direct choice ch.dest is open and the
// caller closes it.
func (c *Copier) selectEngine(ctx context.Context, srcRef, destRef types.ImageReference, destSys *types.SystemContext, p plan) (choice, error) {
	destNamed := destRef.DockerReference()
	_, byDigest := destNamed.(reference.Digested)
	f := engineFacts{keepsBytes: byteForByte(srcRef) && destNamed != nil, destByDigest: byDigest, mode: p.mode,
		built: s3archive.BuildsManifest(srcRef) && destNamed != nil, forceFormat: p.format != ""}
	d, err := manifest.Digest(p.top)
	if err != nil {
		return choice{}, err
	}
	f.top = sourceManifest{digest: d, bytes: p.top, mime: p.topType}
	if ch := chooseEngine(f); ch.engine == engineImage {
		return ch, nil // declined before anything was read
	}
	// The planned source is still open: its connection and login are reused.
	src := watchSource(ctx, p.src, srcRef) // stall.go: every call and blob read is activity
	if !manifest.MIMETypeIsMultiImage(p.topType) {
		f.images = []sourceManifest{f.top}
	} else {
		want := p.children
		switch p.mode {
		case modeSingle:
			want = []digest.Digest{p.want}
		case modeImageIndex:
			list, err := manifest.ListFromBlob(p.top, p.topType)
			if err != nil {
				return choice{}, err
			}
			want = list.Instances()
		}
		for _, d := range want {
			b, t, err := src.GetManifest(ctx, &d)
			if err != nil {
				return choice{}, err
			}
			if err := checkManifestDigest(b, d); err != nil {
				return choice{}, fmt.Errorf("the source: %w", err)
			}
			if t == "" {
				t = manifest.GuessMIMEType(b)
			}
			f.images = append(f.images, sourceManifest{digest: d, bytes: b, mime: t})
		}
	}
	dest, err := destRef.NewImageDestination(ctx, destSys)
	if err != nil {
		return choice{}, err
	}
	f.accepted = dest.SupportedManifestMIMETypes()
	ch := chooseEngine(f)
	if ch.engine == engineImage {
		_ = dest.Close()
		return ch, nil
	}
	ch.src, ch.dest = src, watchDest(ctx, dest, destRef)
	return ch, nil
}

// transfer copies per p with the chosen engine, under the retry policy, and returns the
// destination digest. A retry after a partial copy finds the blobs already there.
func (c *Copier) transfer(ctx context.Context, srcRef, destRef types.ImageReference, srcLogin, destLogin *login, job Job, p *plan) (digest.Digest, error) {
	srcSys, destSys := srcLogin.sys, destLogin.sys
	asked := srcRef // as the job names it, for messages; every read goes to the pinned one
	srcRef, err := p.pinnedSource(asked)
	if err != nil {
		return "", err
	}
	pc, err := policyContext()
	if err != nil {
		return "", err
	}
	defer func() { _ = pc.Destroy() }()

	slog.Info("copying", "src", display(asked), "read_as", display(srcRef), "dest", display(destRef), "mode", p.mode.String(),
		"arch", archLog(job), "parallel", c.opts.MaxParallel)
	var (
		done            digest.Digest
		childrenInPlace bool // the direct engine copied a filtered index's children
		logged          bool
	)
	err = withRetry(ctx, job.Retry, "copying "+display(asked), stallGuard(hostsOf(srcRef, destRef), func(ctx context.Context) error {
		if g := srcLogin.generation(); g != p.srcGen {
			// The source was logged in to again: the planned source has the old credentials.
			src, err := srcRef.NewImageSource(ctx, srcSys)
			if err != nil {
				return err
			}
			_ = p.src.Close()
			p.src, p.srcGen = src, g
		}
		if !childrenInPlace {
			ch, err := c.selectEngine(ctx, srcRef, destRef, destSys, *p)
			if err != nil {
				return err
			}
			if !logged {
				slog.Info("copy engine", "engine", ch.engine.String(), "reason", ch.reason)
				logged = true
			}
			if ch.engine != engineImage {
				copyWith := c.copyDirect
				if ch.engine == engineBuilt {
					copyWith = c.copyBuilt
				}
				d, err := copyWith(ctx, ch, srcRef, destRef)
				_ = ch.dest.Close()
				if err != nil {
					return err
				}
				if ch.engine != engineDirectChildren {
					done = d
					return nil
				}
				childrenInPlace = true
			}
		}
		var err error
		done, err = c.copyImage(ctx, pc, srcRef, destRef, srcSys, destSys, *p, childrenInPlace)
		return err
	}), srcLogin, destLogin)
	if err != nil {
		return "", describe(err, "copying", display(asked)+" to "+display(destRef), "")
	}
	return done, nil
}
