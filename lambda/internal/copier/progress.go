package copier

import (
	"log/slog"
	"time"

	"go.podman.io/image/v5/types"

	"github.com/cdk-ecr-deployment/handler/internal/crash"
)

// progress aggregates containers/image's per-blob progress events into one
// log line every interval: bytes moved, blobs done, throughput.
type progress struct {
	ch   chan types.ProgressProperties
	done chan struct{}
	err  error // a panic of the reporting goroutine; read after done is closed
	// onEvent is called for every event (the stall watchdog's touch: progress is activity).
	onEvent []func()
}

// progressHook, when set (only tests set it), sees every event.
var progressHook func(types.ProgressProperties)

func startProgress(every time.Duration, onEvent ...func()) *progress {
	p := &progress{ch: make(chan types.ProgressProperties, 64), done: make(chan struct{}), onEvent: onEvent}
	go p.run(every)
	return p
}

// stop must be called after copy.Image returned: containers/image sends
// from the copy's goroutines only while the copy runs. The error is a panic
// of the reporting goroutine (errs.ErrInternal).
func (p *progress) stop() error {
	close(p.ch)
	<-p.done
	return p.err
}

func (p *progress) run(every time.Duration) {
	defer close(p.done)
	defer func() {
		if p.err != nil {
			// The senders (blob copies) must never block on a reporter that is gone.
			for range p.ch {
			}
		}
	}()
	defer crash.Recover(&p.err, "progress reporting")
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
			if progressHook != nil {
				progressHook(ev)
			}
			for _, f := range p.onEvent {
				f()
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
