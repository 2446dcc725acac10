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
//
// Events reach the worker in batches, copied into reused slots: the
// reader fills a batch and hands it on when it is full or when the
// reader has caught up (Flush), so a storm costs one hand-off between
// goroutines per batch and no allocation per event.
type Annotate struct {
	annotators []Annotator
	backlog    int
	q          *queue.Queue[*batch]
	free       chan *batch // batches the worker is done with
	size       int         // events per batch
	made, most int         // batches allocated, and at most
	cur        *batch      // the batch the reader fills; reader only
	waiting    atomic.Int64
	skipped    atomic.Uint64
}

// batch is events handed to the worker at once.
type batch struct{ evs []event.Event }

// DefaultBacklog is how many events may wait for annotation.
const DefaultBacklog = 1024

// maxBatch bounds a batch: large enough that hand-offs cost nothing per
// event, small enough that the worker starts on a storm's events while
// the reader is still decoding.
const maxBatch = 256

// NewAnnotate returns a stage that runs annotators on each event.
func NewAnnotate(backlog int, annotators ...Annotator) *Annotate {
	backlog = max(backlog, 1)
	size := min(maxBatch, max(1, backlog/4))
	// Room for twice the backlog: past the backlog events flow through
	// without look-ups, so Add blocks only when the writer itself is
	// behind.
	most := max(2, 2*backlog/size)
	return &Annotate{
		annotators: annotators,
		backlog:    backlog,
		q:          queue.New[*batch](most),
		free:       make(chan *batch, most),
		size:       size,
		most:       most,
	}
}

// Add takes a copy of ev. After Drain has stopped, it returns the error
// Drain stopped with (at the latest when it hands on the batch).
func (a *Annotate) Add(ev *event.Event) error {
	if a.cur == nil {
		b, err := a.take()
		if err != nil {
			return err
		}
		a.cur = b
	}
	a.cur.evs = append(a.cur.evs, *ev)
	if len(a.cur.evs) == a.size {
		return a.Flush()
	}
	return nil
}

// Flush hands the events added so far to the worker. The reader calls it
// whenever it has caught up, so no event waits for a batch to fill.
func (a *Annotate) Flush() error {
	b := a.cur
	if b == nil || len(b.evs) == 0 {
		return nil
	}
	a.cur = nil
	a.waiting.Add(int64(len(b.evs)))
	return a.q.Put(b)
}

// take returns an empty batch: one the worker is done with, a new one
// while fewer than most exist, or else the first the worker frees.
func (a *Annotate) take() (*batch, error) {
	select {
	case b := <-a.free:
		return b, nil
	default:
	}
	if a.made < a.most {
		a.made++
		return &batch{evs: make([]event.Event, 0, a.size)}, nil
	}
	select {
	case b := <-a.free:
		return b, nil
	case <-a.q.Done():
		return nil, a.q.Err()
	}
}

// Close hands on what was added and says no more events will be.
func (a *Annotate) Close() {
	a.Flush() // after Drain stopped: it has the error already
	a.q.Close()
}

// Drain annotates and writes the events in the order they were added,
// until Close or until write fails. idle, when not nil, is called
// whenever no batch is waiting.
func (a *Annotate) Drain(write func(*event.Event) error, idle func() error) (err error) {
	defer func() { a.q.Stop(err) }()
	for b := range a.q.Items() {
		if err := a.drain(b, write); err != nil {
			return err
		}
		// The slots keep their last events' pointers until they are
		// overwritten: at most twice the backlog, not worth clearing.
		b.evs = b.evs[:0]
		a.free <- b // never blocks: it holds every batch
		if idle != nil && a.q.Len() == 0 {
			if err := idle(); err != nil {
				return err
			}
		}
	}
	return nil
}

// drain annotates and writes one batch's events. The count of events
// waiting is read and lowered once a batch, not per event (an atomic
// shared with the reader): an event counts as waiting behind it the
// batch's later events and what was waiting when the batch began.
func (a *Annotate) drain(b *batch, write func(*event.Event) error) error {
	waiting := a.waiting.Load()
	var skipped uint64
	defer func() {
		a.waiting.Add(-int64(len(b.evs)))
		a.skipped.Add(skipped)
	}()
	for i := range b.evs {
		ev := &b.evs[i]
		if waiting-int64(i+1) >= int64(a.backlog) {
			skipped++
		} else {
			for _, an := range a.annotators {
				an.Annotate(ev)
			}
		}
		if err := write(ev); err != nil {
			return err
		}
	}
	return nil
}

// Skipped returns how many events were written without annotation
// because too many were waiting.
func (a *Annotate) Skipped() uint64 { return a.skipped.Load() }
