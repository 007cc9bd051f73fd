package s3archive

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
)

// member is a regular file inside the archive.
type member struct {
	offset int64 // of the body within the object
	size   int64
	magic  []byte // first bytes of the body when they were seen while indexing
	// data is the whole body of a small member (manifest.json, configs, tiny layers) when
	// it was in the window fetched for its header: reading it again would cost a GET.
	data []byte
}

// archive is the index of a tarball stored in S3.
type archive struct {
	obj     *object
	members map[string]*member
	links   map[string]string // cleaned name -> cleaned target (symlinks and hard links)
}

const (
	// indexWindow is fetched per GET while walking headers. Small members
	// (json, VERSION, configs) fall inside the same window as their header,
	// so the walk costs about one GET per large member.
	indexWindow = 64 << 10
	magicLen    = 8
	// keepLimit bounds the bytes of small members kept from the index windows.
	keepLimit = 4 << 20
	// Limits on what is read into memory.
	maxManifestJSON = 4 << 20
	maxConfig       = 16 << 20
)

func corrupt(obj *object, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", errs.ErrCorruptArchive, obj, fmt.Sprintf(format, args...))
}

// indexArchive walks the tar headers of obj with ranged reads.
func indexArchive(ctx context.Context, obj *object) (*archive, error) {
	wr := &windowReader{ctx: ctx, obj: obj, window: indexWindow}
	tr := tar.NewReader(wr)
	a := &archive{obj: obj, members: map[string]*member{}, links: map[string]string{}}
	kept := int64(0)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if wr.err != nil {
				return nil, wr.err
			}
			return nil, corrupt(obj, "not a readable tar archive (a `docker save` tarball is expected): %v", err)
		}
		// docker save writes plain relative names, each once. A name that leaves the
		// archive (absolute, or ../ past its root) or comes twice would be resolved one way
		// here and another way by other tools: refuse the archive rather than guess.
		if escapes(h.Name) {
			return nil, corrupt(obj, "entry %q points outside the archive (absolute or ../)", h.Name)
		}
		name := cleanName(h.Name)
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA, tar.TypeSymlink, tar.TypeLink: //nolint:staticcheck // old archives still use TypeRegA
			if _, dup := a.members[name]; dup {
				return nil, corrupt(obj, "entry %q appears more than once", h.Name)
			}
			if _, dup := a.links[name]; dup {
				return nil, corrupt(obj, "entry %q appears more than once", h.Name)
			}
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old archives still use TypeRegA
			// archive/tar reads headers block by block without buffering,
			// so after Next the reader sits at the first body byte.
			m := &member{offset: wr.pos, size: h.Size}
			if b, ok := wr.cached(wr.pos, min(int64(magicLen), h.Size)); ok {
				m.magic = bytes.Clone(b)
			}
			if b, ok := wr.cached(wr.pos, h.Size); ok && kept+h.Size <= keepLimit {
				m.data = bytes.Clone(b)
				kept += h.Size
			}
			a.members[name] = m
		case tar.TypeSymlink:
			target := path.Join(path.Dir(name), h.Linkname)
			if path.IsAbs(h.Linkname) || escapes(target) {
				return nil, corrupt(obj, "symbolic link %q -> %q points outside the archive", h.Name, h.Linkname)
			}
			a.links[name] = cleanName(target)
		case tar.TypeLink:
			if escapes(h.Linkname) {
				return nil, corrupt(obj, "hard link %q -> %q points outside the archive", h.Name, h.Linkname)
			}
			a.links[name] = cleanName(h.Linkname)
		}
	}
	if len(a.members) == 0 {
		return nil, corrupt(obj, "the archive holds no files")
	}
	return a, nil
}

// escapes reports whether an archive path is absolute or climbs above the archive's root.
func escapes(n string) bool {
	c := path.Clean(n)
	return path.IsAbs(n) || c == ".." || strings.HasPrefix(c, "../")
}

func cleanName(n string) string {
	return strings.TrimPrefix(path.Clean("/"+n), "/")
}

// lookup finds a regular file, following links.
func (a *archive) lookup(name string) (*member, error) {
	n := cleanName(name)
	for range 16 {
		if m, ok := a.members[n]; ok {
			return m, nil
		}
		t, ok := a.links[n]
		if !ok {
			return nil, corrupt(a.obj, "%q is missing from the archive", name)
		}
		n = t
	}
	return nil, corrupt(a.obj, "%q: too many levels of links", name)
}

// read reads a whole member into memory, bounded by limit.
func (a *archive) read(ctx context.Context, name string, limit int64) ([]byte, error) {
	m, err := a.lookup(name)
	if err != nil {
		return nil, err
	}
	if m.size > limit {
		return nil, corrupt(a.obj, "%q is %d bytes, more than the %d allowed", name, m.size, limit)
	}
	if m.data != nil {
		return bytes.Clone(m.data), nil
	}
	return a.obj.readAt(ctx, m.offset, m.size)
}

// open streams a member.
func (a *archive) open(ctx context.Context, m *member) io.ReadCloser {
	if m.data != nil {
		return io.NopCloser(bytes.NewReader(m.data))
	}
	return &resumingReader{ctx: ctx, obj: a.obj, off: m.offset, end: m.offset + m.size}
}

// sniff returns the first bytes of a member.
func (a *archive) sniff(ctx context.Context, m *member) ([]byte, error) {
	if m.magic != nil || m.size == 0 {
		return m.magic, nil
	}
	return a.obj.readAt(ctx, m.offset, min(int64(magicLen), m.size))
}

// manifestItem is one entry of a docker save manifest.json.
type manifestItem struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

func (a *archive) manifestItems(ctx context.Context) ([]manifestItem, error) {
	if _, err := a.lookup("manifest.json"); err != nil {
		return nil, corrupt(a.obj, "no manifest.json: not a `docker save` archive")
	}
	data, err := a.read(ctx, "manifest.json", maxManifestJSON)
	if err != nil {
		return nil, err
	}
	var items []manifestItem
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, corrupt(a.obj, "manifest.json: %v", err)
	}
	if len(items) == 0 {
		return nil, corrupt(a.obj, "manifest.json lists no images")
	}
	for i, it := range items {
		if it.Config == "" {
			return nil, corrupt(a.obj, "manifest.json entry %d has no Config", i)
		}
		for _, p := range append([]string{it.Config}, it.Layers...) {
			if escapes(p) {
				return nil, corrupt(a.obj, "manifest.json entry %d names %q, outside the archive (absolute or ../)", i, p)
			}
		}
	}
	return items, nil
}

// errNoSuchRef: the ref of s3://bucket/key:ref names no image of the archive (an image that
// does not exist, hence errs.ErrNotFound: never retried).
var errNoSuchRef = fmt.Errorf("%w: no image matches", errs.ErrNotFound)
