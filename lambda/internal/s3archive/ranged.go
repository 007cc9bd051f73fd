package s3archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// API is the part of the S3 client used here.
type API interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// object is one S3 object of known size.
type object struct {
	api    API
	bucket string
	key    string
	size   int64
}

func (o *object) String() string { return "s3://" + o.bucket + "/" + o.key }

// openRange starts a GET of [off, off+n).
func (o *object) openRange(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	if n <= 0 {
		return io.NopCloser(eofReader{}), nil
	}
	out, err := o.api.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(o.bucket),
		Key:    aws.String(o.key),
		Range:  aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1)),
	})
	if err != nil {
		return nil, fmt.Errorf("reading bytes %d-%d of %s: %w", off, off+n-1, o, err)
	}
	return out.Body, nil
}

// readAt reads exactly n bytes at off.
func (o *object) readAt(ctx context.Context, off, n int64) ([]byte, error) {
	body, err := o.openRange(ctx, off, n)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, fmt.Errorf("reading bytes %d-%d of %s: %w", off, off+n-1, o, err)
	}
	return buf, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// windowReader is an io.ReadSeeker over an S3 object that fetches a window of
// bytes per GET. archive/tar seeks over file bodies when its reader can
// seek, so walking an archive costs about one GET per large member instead
// of downloading it.
type windowReader struct {
	ctx    context.Context
	obj    *object
	window int64

	pos    int64
	buf    []byte
	bufOff int64
	err    error // last S3 failure, so callers can tell it from a format error
}

func (w *windowReader) Read(p []byte) (int, error) {
	if w.pos >= w.obj.size {
		return 0, io.EOF
	}
	if w.pos < w.bufOff || w.pos >= w.bufOff+int64(len(w.buf)) {
		n := min(w.window, w.obj.size-w.pos)
		b, err := w.obj.readAt(w.ctx, w.pos, n)
		if err != nil {
			w.err = err
			return 0, err
		}
		w.buf, w.bufOff = b, w.pos
	}
	n := copy(p, w.buf[w.pos-w.bufOff:])
	w.pos += int64(n)
	return n, nil
}

func (w *windowReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = w.pos + offset
	case io.SeekEnd:
		abs = w.obj.size + offset
	default:
		return 0, errors.New("bad whence")
	}
	if abs < 0 {
		return 0, errors.New("negative position")
	}
	w.pos = abs
	return abs, nil
}

// cached returns n bytes at off if they are in the current window. n comes from a tar
// header and may be anything up to 1<<63-1: off+n must not be computed (it overflows).
func (w *windowReader) cached(off, n int64) ([]byte, bool) {
	end := w.bufOff + int64(len(w.buf))
	if n < 0 || off < w.bufOff || off > end || n > end-off {
		return nil, false
	}
	return w.buf[off-w.bufOff : off-w.bufOff+n], true
}

// resumingReader streams [off, off+n) of an object and, when the connection
// breaks mid-body, reopens the range from where it stopped instead of
// failing the whole layer (large layers over long-lived connections do see
// resets).
type resumingReader struct {
	ctx      context.Context
	obj      *object
	off, end int64
	body     io.ReadCloser
	retries  int
}

const maxResumes = 3

func (r *resumingReader) Read(p []byte) (int, error) {
	for {
		if r.off >= r.end {
			return 0, io.EOF
		}
		if r.body == nil {
			b, err := r.obj.openRange(r.ctx, r.off, r.end-r.off)
			if err != nil {
				return 0, err
			}
			r.body = b
		}
		if int64(len(p)) > r.end-r.off {
			p = p[:r.end-r.off]
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		if err == nil || (err == io.EOF && r.off >= r.end) {
			if err == io.EOF {
				return n, io.EOF
			}
			return n, nil
		}
		// Premature EOF or a transport error: try to resume.
		r.body.Close()
		r.body = nil
		if r.ctx.Err() != nil || r.retries >= maxResumes {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, fmt.Errorf("reading %s at byte %d: %w", r.obj, r.off, err)
		}
		r.retries++
		slog.Warn("resuming interrupted S3 read", "object", r.obj.String(), "offset", r.off, "attempt", r.retries, "error", err.Error())
		if n > 0 {
			return n, nil
		}
	}
}

func (r *resumingReader) Close() error {
	if r.body != nil {
		return r.body.Close()
	}
	return nil
}
