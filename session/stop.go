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

// ErrCut means the run was stopped while its outputs were still writing
// what the rings held: droptrace stopped at the event it was writing, so
// every line written is whole, and left the rest unwritten.
var ErrCut = errors.New("stopped with events still unwritten: the outputs were still writing what the kernel had sent; stopped at a whole event to exit within a second")

// StallGrace is how long a stopped run may make no progress writing
// before its outputs are abandoned; StopLimit bounds the time from the
// stop to the cut of a run whose outputs still write, after which it has
// StallGrace to end at a whole event, so that droptrace exits within a
// second of a signal or --duration whatever its outputs do.
const (
	StallGrace = 250 * time.Millisecond
	StopLimit  = 750 * time.Millisecond
)

// Stopping waits for a run's result on done. Once ctx ends it waits while
// progress moves, at most StopLimit; then, given cut, it calls it to end
// the run at the next whole event and waits StallGrace more, returning
// ErrCut when the run ended so. It returns ErrAbandoned when the run did
// not finish (progress stalled, or no end after the cut): the goroutine
// is left blocked in its write, and the caller exits.
func Stopping(ctx context.Context, done <-chan error, progress *atomic.Uint64, cut func()) error {
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
	cutting := false
	for {
		select {
		case err := <-done:
			if cutting && err == nil {
				return ErrCut
			}
			return err
		case <-limit.C:
			if cut == nil || cutting {
				return ErrAbandoned
			}
			cut()
			cutting = true
			limit.Reset(StallGrace)
		case <-tick.C:
			cur := progress.Load()
			if cur == last {
				return ErrAbandoned
			}
			last = cur
		}
	}
}
