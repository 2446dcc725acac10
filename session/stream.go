package session

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/tracer"
)

// Source is a tracer of any mode that sends events.
type Source interface {
	// Run passes events to emit until ctx ends or emit returns
	// tracer.ErrStop; idle is called whenever the reader has caught up.
	Run(ctx context.Context, emit func(*event.Event) error, idle func() error) error
	// Stats returns the events that matched in the kernel and those lost.
	Stats() (seen, lost uint64, err error)
	// NotRun returns the probe hits the kernel did not run a program
	// for, as the same program was running on that CPU: events among
	// them are lost, uncounted by Stats.
	NotRun() (uint64, error)
	// Probes returns how many programs are attached now.
	Probes() int
}

// Stage sits between the reader and the writers: it takes each event
// without waiting for a look-up and hands them on, in order, from Drain.
type Stage interface {
	Add(ev *event.Event) error
	Close()
	Drain(write func(*event.Event) error, idle func() error) error
}

// Stream moves events from a Source to an output.
type Stream struct {
	Source Source
	Stage  Stage        // nil: events go straight to Out
	Out    event.Writer // where events are written
	Count  int          // stop after this many events; 0 for no limit
	// Buf is where Out writes, flushed when the reader is idle: an event
	// is reported once its bytes reached Buf's file. Without Buf, Flush
	// (when set) is called instead, and an event is reported once a
	// Flush after it succeeded; without either, once Out took it.
	Buf   *Buffer
	Flush func() error
	// Skip, when set, says which events are not written at all (routine
	// frees, which only user space can tell by location): they are
	// counted (Skipped) before any stage looks them up.
	Skip func(*event.Event) bool

	skipped atomic.Uint64
	cut     atomic.Bool // Stopping's cut: write no more events

	flushMu   sync.Mutex // held by a flush of Buf
	abandoned bool       // under flushMu: Run returned, flush no more

	written  Written   // passed to Out; only the run's goroutine touches it
	pending  []pending // written to Buf but not yet to its file
	mu       sync.Mutex
	reported Written       // written and flushed
	progress atomic.Uint64 // writes and flushes, for the stop watchdog
}

// pending is an event in Buf: reported once its last byte, at offset
// end, reached the file.
type pending struct {
	end  uint64
	kind event.Kind
}

// Written counts the events a Stream wrote, by kind.
type Written struct {
	Drops uint64 // drop events (in path tracing: drops that ended a path)
	TCP   uint64 // --tcp events
	All   uint64 // every event written, path steps included
}

func (n *Written) add(k event.Kind) {
	n.All++
	switch {
	case k == event.KindDrop:
		n.Drops++
	case k.IsTCP():
		n.TCP++
	}
}

// Run writes events until ctx ends, Count events were written or a write
// fails, and returns what was reported: written and flushed. When ctx
// ends and the output stops taking events (a reader that does not read),
// Run abandons it (see Stopping) and returns ErrAbandoned; when it still
// takes them but the rings hold more than it writes in StopLimit, Run
// stops at a whole event, flushes, and returns ErrCut.
func (s *Stream) Run(ctx context.Context) (Written, error) {
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	err := Stopping(ctx, done, &s.progress, func() { s.cut.Store(true) })
	if errors.Is(err, ErrAbandoned) {
		s.abandon()
	}
	return s.Reported(), err
}

// abandon keeps the run's goroutine, left behind by Stopping, from
// writing anything more: no event after this one, and no last flush of
// the buffer, so that what reaches the output beyond what Run reports is
// at most the one write the goroutine is blocked in, which the output's
// reader may still take. A flush under way is waited for at most
// StallGrace: it may be that blocked write.
func (s *Stream) abandon() {
	s.cut.Store(true)
	stopped := make(chan struct{})
	go func() {
		s.flushMu.Lock()
		s.abandoned = true
		s.flushMu.Unlock()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(StallGrace):
	}
}

// Reported returns the events written and flushed so far.
func (s *Stream) Reported() Written {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reported
}

// Skipped returns how many events Skip kept out of the outputs.
func (s *Stream) Skipped() uint64 { return s.skipped.Load() }

// skipping puts Skip in front of take.
func (s *Stream) skipping(take func(*event.Event) error) func(*event.Event) error {
	if s.Skip == nil {
		return take
	}
	return func(ev *event.Event) error {
		if s.Skip(ev) {
			s.skipped.Add(1)
			return nil
		}
		return take(ev)
	}
}

func (s *Stream) run(ctx context.Context) error {
	if s.Stage == nil {
		err := s.Source.Run(ctx, s.skipping(s.write), s.flush)
		return s.final(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	drained := make(chan error, 1)
	go func() {
		err := s.Stage.Drain(s.write, s.flush)
		if err != nil {
			// Stopped at the count or on a failed write or flush: end the
			// source, which may be waiting for an event that never comes.
			cancel()
		}
		drained <- err
	}()
	// The reader flushes the stage, not the output, when it has caught
	// up: the stage's goroutine writes.
	runErr := s.Source.Run(ctx, s.skipping(s.Stage.Add), flushOf(s.Stage))
	s.Stage.Close()
	drainErr := <-drained
	if drainErr != nil && !errors.Is(drainErr, tracer.ErrStop) {
		return drainErr
	}
	return s.final(runErr)
}

// final flushes what the last events left buffered, unless the run
// failed.
func (s *Stream) final(err error) error {
	if err != nil {
		return err
	}
	return s.flush()
}

func (s *Stream) write(ev *event.Event) error {
	if s.cut.Load() {
		return tracer.ErrStop
	}
	err := s.Out.Write(ev)
	if err != nil {
		s.commit()
		return err
	}
	s.written.add(ev.Kind)
	switch {
	case s.Buf != nil:
		s.pending = append(s.pending, pending{end: s.Buf.accepted(), kind: ev.Kind})
		if s.Buf.written() >= s.pending[0].end {
			s.commit() // the buffer filled and was written out
		}
	case s.Flush != nil:
		s.pending = append(s.pending, pending{kind: ev.Kind})
	default:
		s.mu.Lock()
		s.reported.add(ev.Kind)
		s.mu.Unlock()
	}
	s.progress.Add(1)
	if s.Count > 0 && s.written.All >= uint64(s.Count) {
		return tracer.ErrStop
	}
	return nil
}

// flush writes the buffer out; the events it held are then reported.
func (s *Stream) flush() error {
	var err error
	switch {
	case s.Buf != nil:
		s.flushMu.Lock()
		defer s.flushMu.Unlock()
		if s.abandoned {
			return tracer.ErrStop
		}
		err = s.Buf.Flush()
		s.commit()
	case s.Flush != nil:
		if err = s.Flush(); err == nil {
			s.commitAll()
		}
	}
	if err == nil {
		s.progress.Add(1)
	}
	return err
}

// commit reports the pending events whose bytes all reached Buf's file.
func (s *Stream) commit() {
	if s.Buf == nil {
		return
	}
	done := s.Buf.written()
	i := 0
	s.mu.Lock()
	for ; i < len(s.pending) && s.pending[i].end <= done; i++ {
		s.reported.add(s.pending[i].kind)
	}
	s.mu.Unlock()
	s.pending = append(s.pending[:0], s.pending[i:]...)
}

// commitAll reports every pending event: a Flush succeeded.
func (s *Stream) commitAll() {
	s.mu.Lock()
	for _, p := range s.pending {
		s.reported.add(p.kind)
	}
	s.mu.Unlock()
	s.pending = s.pending[:0]
}
