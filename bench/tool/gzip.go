package main

// gzip: the measurement behind the gzip level the handler compresses uncompressed archive
// layers with (lambda/internal/copier/compression.go). `docker save` before Docker 25 stores
// layers as plain tars, and registries want them compressed, so every such layer is deflated
// on the way: at Lambda's 0.29 vCPU that CPU is the copy's wall time. The library is the one
// containers/image compresses with (klauspost/pgzip, at the version lambda/go.mod pins), so
// the figures are the handler's own cost per level.

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
	"time"

	"github.com/klauspost/pgzip"
)

// GzipSpec: corpora to compress at each level, Runs times each (rotating the level order).
type GzipSpec struct {
	Corpora []GzipCorpus `json:"corpora"`
	Levels  []int        `json:"levels"` // pgzip levels: -2 (Huffman only), 1..9
	Runs    int          `json:"runs"`
}

// GzipCorpus is a layer's content: the files under Dir, as a tar (the way `docker save`
// stores a layer), or RandomBytes of random data (what the copy bench's images hold).
type GzipCorpus struct {
	Name        string `json:"name"`
	Dir         string `json:"dir,omitempty"`
	RandomBytes int64  `json:"randomBytes,omitempty"`
}

type GzipRow struct {
	Corpus   string  `json:"corpus"`
	Level    int     `json:"level"`
	InBytes  int64   `json:"inBytes"`
	OutBytes int64   `json:"outBytes"`
	CPUSec   float64 `json:"cpuSec"` // median over the runs
	WallSec  float64 `json:"wallSec"`
}

func runGzip(s GzipSpec) ([]GzipRow, error) {
	if s.Runs < 1 {
		s.Runs = 3
	}
	var rows []GzipRow
	for _, c := range s.Corpora {
		data, err := corpus(c)
		if err != nil {
			return nil, err
		}
		cpu := map[int][]float64{}
		wall := map[int][]float64{}
		out := map[int]int64{}
		for r := range s.Runs {
			for _, level := range rotate(s.Levels, r) {
				c0, t0 := cpuSeconds(), time.Now()
				n, err := deflate(data, level)
				if err != nil {
					return nil, fmt.Errorf("%s at level %d: %w", c.Name, level, err)
				}
				cpu[level] = append(cpu[level], cpuSeconds()-c0)
				wall[level] = append(wall[level], time.Since(t0).Seconds())
				out[level] = n
			}
		}
		for _, level := range s.Levels {
			rows = append(rows, GzipRow{Corpus: c.Name, Level: level, InBytes: int64(len(data)), OutBytes: out[level],
				CPUSec: median(cpu[level]), WallSec: median(wall[level])})
		}
	}
	return rows, nil
}

// deflate compresses data as containers/image does (pgzip.NewWriterLevel, default
// concurrency) and returns the compressed size.
func deflate(data []byte, level int) (int64, error) {
	n := countWriter{w: io.Discard}
	w, err := pgzip.NewWriterLevel(&n, level)
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return n.n, nil
}

// corpus is the bytes of one layer: a tar of Dir's regular files in name order (so the same
// tree gives the same bytes), or random data.
func corpus(c GzipCorpus) ([]byte, error) {
	if c.Dir == "" {
		b := make([]byte, c.RandomBytes)
		rand.NewChaCha8([32]byte{7}).Read(b)
		return b, nil
	}
	var paths []string
	err := filepath.WalkDir(c.Dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("corpus %s: %w", c.Name, err)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("corpus %s: %w", c.Name, err)
		}
		rel, _ := filepath.Rel(c.Dir, p)
		if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func rotate[T any](xs []T, r int) []T {
	k := r % len(xs)
	return append(slices.Clone(xs[k:]), xs[:k]...)
}
