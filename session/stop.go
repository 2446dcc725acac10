package session

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// ErrAbandoned means the run was stopped while an output took no more
// events (a pipe nobody reads, a stalled FIFO reader): droptrace stopped
// waiting for it, and what it still held was not reported.
var ErrAbandoned = errors.New("stopped with events still unwritten: an output did not take them in time (a reader that does not read, or falls behind); left them to stop within a second")

// StallGrace is how long a stopped run may make no progress writing
// before its outputs are abandoned; StopLimit bounds the whole time from
// the stop to the return, so that droptrace exits within a second of a
// signal or --duration whatever its outputs do.
const (
	StallGrace = 250 * time.Millisecond
	StopLimit  = 750 * time.Millisecond
)

// Stopping waits for a run's result on done. Once ctx ends it waits while
// progress moves, at most StopLimit, and returns ErrAbandoned when the
// run did not finish: the goroutine is left blocked in its write, and the
// caller exits.
func Stopping(ctx context.Context, done <-chan error, progress *atomic.Uint64) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	limit := time.NewTimer(StopLimit)
	defer limit.Stop()
	tick := time.NewTicker(StallGrace)
	defer tick.Stop()
	last := progress.Load()
	for {
		select {
		case err := <-done:
			return err
		case <-limit.C:
			return ErrAbandoned
		case <-tick.C:
			cur := progress.Load()
			if cur == last {
				return ErrAbandoned
			}
			last = cur
		}
	}
}
