package session

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/tracer"
)

// fakeSource sends its events as the tracer's Run does: in order, ending
// early without error when emit returns tracer.ErrStop, calling idle once
// it has caught up, and then waiting for ctx to end.
type fakeSource struct {
	events   []*event.Event
	afterAll func()  // runs once every event was emitted, e.g. to end ctx
	runErr   error   // returned instead of waiting for ctx
	seen     uint64  // Stats
	lost     uint64  // Stats
	statsErr error   // Stats
	notRun   uint64  // NotRun
	gotIdle  bool    // Run was given an idle function
	emitted  int     // events emit accepted
	emitErrs []error // what emit returned, in order
}

func (s *fakeSource) Run(ctx context.Context, emit func(*event.Event) error, idle func() error) error {
	s.gotIdle = idle != nil
	for _, ev := range s.events {
		// The tracer decodes every record into the same Event.
		scratch := *ev
		err := emit(&scratch)
		s.emitErrs = append(s.emitErrs, err)
		if errors.Is(err, tracer.ErrStop) {
			return nil
		}
		if err != nil {
			return err
		}
		s.emitted++
	}
	if idle != nil {
		if err := idle(); err != nil {
			return err
		}
	}
	if s.afterAll != nil {
		s.afterAll()
	}
	if s.runErr != nil {
		return s.runErr
	}
	<-ctx.Done()
	return nil
}

func (s *fakeSource) Stats() (seen, lost uint64, err error) { return s.seen, s.lost, s.statsErr }
func (s *fakeSource) Probes() int                           { return 1 }
func (s *fakeSource) NotRun() (uint64, error)               { return s.notRun, nil }

// fakeWriter keeps copies of the events written; the write numbered
// failAt (from 1) fails with err.
type fakeWriter struct {
	mu     sync.Mutex
	events []event.Event
	failAt int
	err    error
}

func (w *fakeWriter) Write(ev *event.Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failAt > 0 && len(w.events)+1 == w.failAt {
		return w.err
	}
	w.events = append(w.events, *ev)
	return nil
}

func (w *fakeWriter) Close() error { return nil }

func (w *fakeWriter) skbs() []uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []uint64
	for _, ev := range w.events {
		out = append(out, ev.Skb)
	}
	return out
}

// fakeStage hands events on in order from another goroutine, as the
// tcp_info annotator does: Add copies the event into a queue, and once
// Drain has stopped, Add returns the error Drain stopped on.
type fakeStage struct {
	items   chan *event.Event
	stopped chan struct{}
	stopErr error
	added   int
}

func newFakeStage(queue int) *fakeStage {
	return &fakeStage{items: make(chan *event.Event, queue), stopped: make(chan struct{})}
}

func (s *fakeStage) Add(ev *event.Event) error {
	e := *ev
	select {
	case s.items <- &e:
		s.added++
		return nil
	case <-s.stopped:
		return s.stopErr
	}
}

func (s *fakeStage) Close() { close(s.items) }

func (s *fakeStage) Drain(write func(*event.Event) error, idle func() error) (err error) {
	defer func() {
		s.stopErr = err
		close(s.stopped)
	}()
	for ev := range s.items {
		if err := write(ev); err != nil {
			return err
		}
		if idle != nil && len(s.items) == 0 {
			if err := idle(); err != nil {
				return err
			}
		}
	}
	return nil
}

// counter counts calls, and fails from the call numbered failAt (from 1).
type counter struct {
	mu     sync.Mutex
	n      int
	failAt int
	err    error
}

func (c *counter) call() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.failAt > 0 && c.n >= c.failAt {
		return c.err
	}
	return nil
}

func (c *counter) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// within runs f and fails the test when f has not returned after a
// while: what is under test may wait for an event that never comes.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not return", what)
	}
}
