package copier

import (
	"log/slog"
	"time"

	"go.podman.io/image/v5/types"
)

// progress aggregates containers/image's per-blob progress events into one
// log line every interval: bytes moved, blobs done, throughput.
type progress struct {
	ch   chan types.ProgressProperties
	done chan struct{}
}

func startProgress(every time.Duration) *progress {
	p := &progress{ch: make(chan types.ProgressProperties, 64), done: make(chan struct{})}
	go p.run(every)
	return p
}

// stop must be called after copy.Image returned: containers/image sends
// from the copy's goroutines only while the copy runs.
func (p *progress) stop() {
	close(p.ch)
	<-p.done
}

func (p *progress) run(every time.Duration) {
	defer close(p.done)
	start := time.Now()
	var bytes uint64
	var blobs, skipped int
	tick := time.NewTicker(every)
	defer tick.Stop()
	report := func(msg string) {
		secs := time.Since(start).Seconds()
		mbps := 0.0
		if secs > 0 {
			mbps = float64(bytes) / 1e6 / secs
		}
		slog.Info(msg, "bytes", bytes, "blobs_done", blobs, "blobs_skipped", skipped,
			"mb_per_s", float64(int(mbps*10))/10, "elapsed", time.Since(start).Round(time.Millisecond).String())
	}
	for {
		select {
		case ev, ok := <-p.ch:
			if !ok {
				if bytes > 0 || blobs > 0 || skipped > 0 {
					report("copy progress (final)")
				}
				return
			}
			switch ev.Event {
			case types.ProgressEventRead:
				bytes += ev.OffsetUpdate
			case types.ProgressEventDone:
				bytes += ev.OffsetUpdate
				blobs++
			case types.ProgressEventSkipped:
				skipped++
			}
		case <-tick.C:
			report("copy progress")
		}
	}
}
