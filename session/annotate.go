package session

import (
	"sync/atomic"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/queue"
)

// Annotator adds what it looks up on the system to an event (the rule
// that dropped it, an explanation, the pod). It runs in the annotation
// worker, never on the ring-buffer reader, and bounds its own look-ups.
type Annotator interface {
	Annotate(ev *event.Event)
}

// Annotate is a Stage that runs annotators on every event, in order, in
// one worker. When more than Backlog events wait, the worker passes
// events on without annotating them, and counts them (Skipped), so a
// storm costs latency of at most Backlog look-ups and never stalls the
// reader.
type Annotate struct {
	annotators []Annotator
	backlog    int
	q          *queue.Queue[*event.Event]
	skipped    atomic.Uint64
}

// DefaultBacklog is how many events may wait for annotation.
const DefaultBacklog = 1024

// NewAnnotate returns a stage that runs annotators on each event.
func NewAnnotate(backlog int, annotators ...Annotator) *Annotate {
	return &Annotate{
		annotators: annotators,
		backlog:    backlog,
		// Room for twice the backlog: past the backlog events flow
		// through without look-ups, so Add blocks only when the writer
		// itself is behind.
		q: queue.New[*event.Event](2 * backlog),
	}
}

// Add takes a copy of ev. After Drain has stopped, it returns the error
// Drain stopped with.
func (a *Annotate) Add(ev *event.Event) error {
	e := *ev
	return a.q.Put(&e)
}

// Close says no more events will be added.
func (a *Annotate) Close() { a.q.Close() }

// Drain annotates and writes the events in the order they were added,
// until Close or until write fails.
func (a *Annotate) Drain(write func(*event.Event) error, idle func() error) (err error) {
	defer func() { a.q.Stop(err) }()
	for ev := range a.q.Items() {
		if a.q.Len() >= a.backlog {
			a.skipped.Add(1)
		} else {
			for _, an := range a.annotators {
				an.Annotate(ev)
			}
		}
		if err := write(ev); err != nil {
			return err
		}
		if idle != nil && a.q.Len() == 0 {
			if err := idle(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Skipped returns how many events were written without annotation
// because too many were waiting.
func (a *Annotate) Skipped() uint64 { return a.skipped.Load() }
