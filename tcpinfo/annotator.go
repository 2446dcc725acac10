package tcpinfo

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/queue"
)

// Flow identifies a TCP socket: its namespace and its two ends.
type Flow struct {
	Netns         uint32
	Local, Remote netip.AddrPort
}

// Lookup reads the tcp_info of the socket of f (with that cookie, when not
// 0). A socket that no longer exists is a TCPInfo with Gone set, not an
// error.
type Lookup func(f Flow, cookie uint64) (*event.TCPInfo, error)

// Config tunes the Annotator; DefaultConfig's values are the documented ones.
type Config struct {
	Interval time.Duration // at most one look-up per flow per Interval
	Wait     time.Duration // the longest an event waits for its look-up
	Queue    int           // look-ups that may wait for a worker
	Workers  int
	Backlog  int // events between the reader and the writer
}

// DefaultConfig returns the configuration droptrace runs with.
func DefaultConfig() Config {
	return Config{Interval: 100 * time.Millisecond, Wait: 500 * time.Millisecond, Queue: 256, Workers: 2, Backlog: 1 << 16}
}

// Stats counts what the Annotator did. Every event it was given is
// written, with what its look-up found or without.
type Stats struct {
	AtEvent   uint64 // events that came with the socket's state read at the event
	Annotated uint64 // events written with what their look-up found, Gone included
	Gone      uint64 // of those, whose socket no longer existed
	Lookups   uint64 // look-ups made
	Coalesced uint64 // events that shared a look-up with an earlier one
	QueueFull uint64 // events written without a look-up's answer: the look-up queue was full
	TimedOut  uint64 // events written without a look-up's answer: the look-up took longer than Wait
	Failed    uint64 // events written without a look-up's answer: the look-up failed
}

// Annotator attaches tcp_info to events; see the package documentation.
type Annotator struct {
	cfg    Config
	lookup Lookup
	now    func() time.Time

	items  *queue.Queue[item]
	jobs   chan *query
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	flows     map[Flow]*flowState
	lastSweep time.Time
	stats     Stats
}

// item is an event on its way to the writer, with the look-up it waits for.
type item struct {
	ev       *event.Event
	q        *query // nil: no look-up
	deadline time.Time
}

// query is one look-up, shared by the events of a flow that arrive before
// it starts.
type query struct {
	flow   Flow
	cookie uint64
	done   chan struct{}
	info   *event.TCPInfo
	err    error
}

// errQueueFull answers the events of a query that found the queue full.
var errQueueFull = errors.New("look-up queue full")

type flowState struct {
	lastStart time.Time // when this flow's last look-up started
	next      *query    // the look-up not started yet, which new events join
}

// New starts an Annotator's workers; Drain writes what Add is given.
func New(lookup Lookup, cfg Config) *Annotator {
	ctx, cancel := context.WithCancel(context.Background())
	a := &Annotator{
		cfg: cfg, lookup: lookup, now: time.Now,
		items: queue.New[item](cfg.Backlog),
		jobs:  make(chan *query, cfg.Queue),
		ctx:   ctx, cancel: cancel,
		flows: map[Flow]*flowState{},
	}
	for range cfg.Workers {
		go a.work()
	}
	return a
}

// Add takes a copy of ev. It never waits for a look-up; it waits only
// when Backlog events are waiting for the writer. After Drain has
// stopped, it returns the error Drain stopped with.
func (a *Annotator) Add(ev *event.Event) error {
	e := *ev
	if e.TCPInfo != nil {
		ti := *e.TCPInfo // the look-up's answer is merged into the copy
		e.TCPInfo = &ti
		if ti.AtEvent {
			a.count(func(s *Stats) { s.AtEvent++ })
		}
	}
	it := item{ev: &e}
	if f, ok := FlowOf(&e); ok {
		now := a.now()
		it.q = a.schedule(f, e.SockCookie, now)
		it.deadline = now.Add(a.cfg.Wait)
	}
	return a.items.Put(it)
}

// Close says no more events will be added: Drain returns once it has
// written those it has.
func (a *Annotator) Close() { a.items.Close() }

// Drain writes the events in the order they were added, each once its
// look-up has finished or its wait is over, until Close or until write
// fails. idle, when not nil, is called whenever no event is waiting.
func (a *Annotator) Drain(write func(*event.Event) error, idle func() error) (err error) {
	defer func() {
		a.items.Stop(err)
		a.cancel()
	}()
	for it := range a.items.Items() {
		if it.q != nil {
			a.await(it)
		}
		if err := write(it.ev); err != nil {
			return err
		}
		if idle != nil && a.items.Len() == 0 {
			if err := idle(); err != nil {
				return err
			}
		}
	}
	return nil
}

// await attaches the look-up's answer to the event, or gives up at its
// deadline.
func (a *Annotator) await(it item) {
	if !a.waitDone(it) {
		a.count(func(s *Stats) { s.TimedOut++ })
		return
	}
	switch {
	case errors.Is(it.q.err, errQueueFull):
		a.count(func(s *Stats) { s.QueueFull++ })
	case it.q.err != nil:
		a.count(func(s *Stats) { s.Failed++ })
	default:
		it.ev.TCPInfo = merge(it.ev.TCPInfo, it.q.info)
		a.count(func(s *Stats) {
			s.Annotated++
			if it.q.info.Gone {
				s.Gone++
			}
		})
	}
}

// merge adds what a look-up found (shared by the events that waited for
// it, so left alone) to the state read at the event, at; without one, the
// look-up's answer is all there is.
func merge(at, found *event.TCPInfo) *event.TCPInfo {
	if at == nil || !at.AtEvent {
		ti := *found
		ti.LookedUp = true
		return &ti
	}
	at.LookedUp = true
	at.Gone = found.Gone
	at.RcvQueue, at.SendQueue, at.DeliveryRate = found.RcvQueue, found.SendQueue, found.DeliveryRate
	return at
}

// waitDone waits for the event's look-up until its deadline; a look-up
// already done counts as done even when the deadline has passed too.
func (a *Annotator) waitDone(it item) bool {
	select {
	case <-it.q.done:
		return true
	default:
	}
	timer := time.NewTimer(it.deadline.Sub(a.now()))
	defer timer.Stop()
	select {
	case <-it.q.done:
		return true
	case <-timer.C:
		return false
	}
}

// Stats returns the counts so far.
func (a *Annotator) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

func (a *Annotator) count(f func(*Stats)) {
	a.mu.Lock()
	f(&a.stats)
	a.mu.Unlock()
}
