package session

import (
	"context"
	"errors"

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
	Flush  func() error // flushes buffered output when the reader is idle
}

// Written counts the events a Stream wrote, by kind.
type Written struct {
	Drops uint64 // drop events (in path tracing: drops that ended a path)
	TCP   uint64 // --tcp events
	All   uint64 // every event written, path steps included
}

func (n *Written) add(ev *event.Event) {
	n.All++
	switch {
	case ev.Kind == event.KindDrop:
		n.Drops++
	case ev.Kind.IsTCP():
		n.TCP++
	}
}

// Run writes events until ctx ends, Count events were written or a write
// fails, and returns what was written.
func (s *Stream) Run(ctx context.Context) (Written, error) {
	var n Written
	if s.Stage == nil {
		err := s.Source.Run(ctx, func(ev *event.Event) error { return s.write(&n, ev) }, s.Flush)
		return n, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	drained := make(chan error, 1)
	go func() {
		err := s.Stage.Drain(func(ev *event.Event) error { return s.write(&n, ev) }, s.Flush)
		if err != nil {
			// Stopped at the count or on a failed write or flush: end the
			// source, which may be waiting for an event that never comes.
			cancel()
		}
		drained <- err
	}()
	runErr := s.Source.Run(ctx, s.Stage.Add, nil)
	s.Stage.Close()
	drainErr := <-drained
	if drainErr != nil && !errors.Is(drainErr, tracer.ErrStop) {
		return n, drainErr
	}
	return n, runErr
}

func (s *Stream) write(n *Written, ev *event.Event) error {
	if err := s.Out.Write(ev); err != nil {
		return err
	}
	n.add(ev)
	if s.Count > 0 && n.All >= uint64(s.Count) {
		return tracer.ErrStop
	}
	return nil
}
