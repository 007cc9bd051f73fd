package copier

import (
	"context"
	"io"
	"time"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/types"
)

// The watched wrappers: sources, destinations, blob bodies and copy.Image's report lines,
// each call and read reported to the attempt's stallWatch (stall.go).

// stallReport is copy.Options.ReportWriter for an attempt: copy.Image writes a line at
// every step ("Copying blob ...", "Writing manifest ..."), each one activity. The text is
// dropped. nil outside a watched attempt.
func stallReport(ctx context.Context) io.Writer {
	if w := stallWatchOf(ctx); w != nil {
		return reportTouch{w}
	}
	return nil
}

type reportTouch struct{ w *stallWatch }

func (r reportTouch) Write(p []byte) (int, error) {
	r.w.touch()
	return len(p), nil
}

// watchSource returns src with its calls and blob reads watched by ctx's attempt (src
// itself outside an attempt). A source watched by an earlier attempt is re-bound. Its
// creation counts as activity (NewImageSource just returned).
func watchSource(ctx context.Context, src types.ImageSource, ref types.ImageReference) types.ImageSource {
	if ws, ok := src.(*watchedSource); ok {
		src = ws.ImageSource
	}
	w := stallWatchOf(ctx)
	if w == nil || src == nil {
		return src
	}
	w.touch()
	return &watchedSource{ImageSource: src, w: w, host: hostsOf(ref)}
}

// watchDest returns dest with its calls and upload bodies watched by ctx's attempt.
func watchDest(ctx context.Context, dest types.ImageDestination, ref types.ImageReference) types.ImageDestination {
	if wd, ok := dest.(*watchedDest); ok {
		dest = wd.ImageDestination
	}
	w := stallWatchOf(ctx)
	if w == nil || dest == nil {
		return dest
	}
	w.touch()
	return &watchedDest{ImageDestination: dest, w: w, host: hostsOf(ref)}
}

// watchedCall runs fn, one request to host made outside a watched source or destination
// (manifest reads, tag lists, manifest DELETEs), as a watched call of ctx's attempt: its
// start and its answer are activity, so an attempt made of many requests (a delete reading
// hundreds of tags) is stalled only when one of them is silent for the idle timeout, not
// when all of them together take longer.
func watchedCall[T any](ctx context.Context, host string, fn func() (T, error)) (T, error) {
	o := stallWatchOf(ctx).op(host)
	o.wait(0)
	defer o.got()
	return fn()
}

type watchedSource struct {
	types.ImageSource
	w    *stallWatch
	host string
}

func (s *watchedSource) GetManifest(ctx context.Context, instance *digest.Digest) ([]byte, string, error) {
	o := s.w.op(s.host)
	o.wait(0)
	defer o.got()
	return s.ImageSource.GetManifest(ctx, instance)
}

func (s *watchedSource) GetBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, int64, error) {
	o := s.w.op(s.host)
	o.wait(0)
	rc, n, err := s.ImageSource.GetBlob(ctx, info, cache)
	o.got()
	if err != nil || rc == nil {
		return rc, n, err
	}
	return &watchedBody{rc: rc, op: s.w.op(s.host)}, n, nil
}

func (s *watchedSource) GetSignatures(ctx context.Context, instance *digest.Digest) ([][]byte, error) {
	o := s.w.op(s.host)
	o.wait(0)
	defer o.got()
	return s.ImageSource.GetSignatures(ctx, instance)
}

// watchedBody is a source blob: each Read waits on the source.
type watchedBody struct {
	rc io.ReadCloser
	op *stallOp
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.op.wait(0)
	n, err := b.rc.Read(p)
	b.op.got()
	return n, err
}

func (b *watchedBody) Close() error { return b.rc.Close() }

type watchedDest struct {
	types.ImageDestination
	w    *stallWatch
	host string
}

// PutBlob waits on the destination except while the HTTP client reads stream; once stream
// is at its end, the wait (the commit) gets commitGrace for the bytes read. Those, not
// info.Size: a layer gzipped on the way is uploaded with Size -1, and its commit needs the
// grace as much as any.
func (d *watchedDest) PutBlob(ctx context.Context, stream io.Reader, info types.BlobInfo, cache types.BlobInfoCache, isConfig bool) (types.BlobInfo, error) {
	o := d.w.op(d.host)
	o.wait(0)
	defer o.got()
	return d.ImageDestination.PutBlob(ctx, &uploadBody{r: stream, op: o}, info, cache, isConfig)
}

func (d *watchedDest) TryReusingBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache, canSubstitute bool) (bool, types.BlobInfo, error) {
	o := d.w.op(d.host)
	o.wait(0)
	defer o.got()
	return d.ImageDestination.TryReusingBlob(ctx, info, cache, canSubstitute)
}

func (d *watchedDest) PutManifest(ctx context.Context, m []byte, instance *digest.Digest) error {
	o := d.w.op(d.host)
	o.wait(0)
	defer o.got()
	return d.ImageDestination.PutManifest(ctx, m, instance)
}

func (d *watchedDest) PutSignatures(ctx context.Context, sigs [][]byte, instance *digest.Digest) error {
	o := d.w.op(d.host)
	o.wait(0)
	defer o.got()
	return d.ImageDestination.PutSignatures(ctx, sigs, instance)
}

func (d *watchedDest) Commit(ctx context.Context, unparsed types.UnparsedImage) error {
	o := d.w.op(d.host)
	o.wait(0)
	defer o.got()
	return d.ImageDestination.Commit(ctx, unparsed)
}

// uploadBody is a blob upload's body as the HTTP client reads it.
type uploadBody struct {
	r    io.Reader
	op   *stallOp
	read int64
}

func (u *uploadBody) Read(p []byte) (int, error) {
	u.op.got() // the destination took what the last Read returned
	n, err := u.r.Read(p)
	u.read += int64(n)
	var grace time.Duration
	if err == io.EOF {
		grace = u.op.commitGrace(u.read)
	}
	u.op.wait(grace)
	return n, err
}
