package tracer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cilium/ebpf"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/event"
)

// ErrStop is returned by an emit callback to end Run early (e.g. --count).
var ErrStop = errors.New("stop")

// Run reads events and passes each to emit, in time order, until ctx is
// done or emit returns ErrStop. When ctx ends it detaches first and then
// drains what the ring buffers still hold, so no event that was sent is
// left unread. idle, when not nil, is called after each read of the
// rings: the moment to flush buffered output.
func (t *Tracer) Run(ctx context.Context, emit func(*event.Event) error, idle func() error) error {
	wake := wakeMaps{t.coll.Maps[bpf.DropMapReaderFlag], t.coll.Maps[bpf.DropMapWake]}
	return readRings(ctx, t.rings, wake, func() { t.Detach() }, t.dec.Decode, emit, idle)
}

// pollInterval is how often the ring buffers are read while events come
// slowly. The programs do not wake user space per event
// (BPF_RB_NO_WAKEUP): at a million events a second, 10 ms fill 1.3 MB of
// ring.
const pollInterval = 10 * time.Millisecond

// pollMax bounds the interval nextPoll lengthens while events flood in.
// Under a flood that no one reads live, the reader then wakes a few times
// a second and reads long batches, instead of a hundred short ones: on a
// two-CPU host following an iperf3 flow (--trace --filter-port 5201),
// 100-200 ms kept 0.85-0.89 of the flow's throughput where 10 ms kept
// 0.74-0.76, with the same CPU time per event in the programs.
const pollMax = 160 * time.Millisecond

// busyBytes is how many bytes waiting in the rings at a poll make it a
// busy one: some 400 path steps or 600 drops, 40,000 events a second or
// more at pollInterval.
const busyBytes = 64 << 10

// fillTarget is the share of a ring that nextPoll lets fill between two
// polls: a rate that quadruples within an interval still finds room.
const fillTarget = 1.0 / 4

// nextPoll is the interval until the next poll, from the current one and
// what this poll found: waiting, the bytes the rings held, and fullest,
// the largest share of a ring in use, after elapsed since the poll
// before. It never lets the busiest ring, at the rate it just filled,
// pass fillTarget before the next poll; within that bound a busy poll
// doubles the interval (up to pollMax), and a quiet one goes back to
// pollInterval, so that a trickle of events is handed on at once.
func nextPoll(cur, elapsed time.Duration, waiting int, fullest float64) time.Duration {
	if waiting < busyBytes/8 {
		return pollInterval
	}
	next := cur
	if waiting >= busyBytes {
		next = min(cur*2, pollMax)
	}
	if fullest > 0 {
		// The rings held what filled them in elapsed, and more when the
		// last poll left some behind: the rate is not underestimated.
		next = min(next, time.Duration(float64(elapsed)*fillTarget/fullest))
	}
	return max(next, pollInterval)
}

// reorderSlack is how long an event is held before it is handed on. Each
// CPU writes its own ring, in time order; an event that another CPU timed
// earlier may reach its ring a little later, never this much later in
// practice (it is written microseconds after it is timed), so events this
// old can be merged into one stream in time order.
const reorderSlack = pollInterval

// sleepAfter is how many polls in a row must find the rings empty before
// the read loop, given a sleeper, stops polling and waits to be woken.
const sleepAfter = 10

// sleepCheck is how often a sleeping read loop looks at the rings anyway:
// a bound on how long an event can wait should a wake-up go astray.
const sleepCheck = time.Second

// armGrace is how long after arming its sleeper, and finding the rings
// still empty, the read loop looks at them once more before it sleeps:
// the step rings' programs read the sleeper's flag with no full barrier
// after the step they commit (trace.c, commit_slot), so a step committed
// just as the loop armed may both miss the loop's look and not see the
// flag. Its store is visible within microseconds.
const armGrace = 2 * time.Millisecond

// sleeper lets the read loop stop polling idle rings, and wait between
// polls without letting a burst fill a ring: Arm asks the programs to
// wake it with their next event, Watch with their next event that leaves
// a ring as full as nextPoll lets it fill (wakeShare), and Woken
// receives when they do. Each wake-up ends what Arm or Watch asked.
type sleeper interface {
	Arm() error
	Watch() error
	Woken() <-chan struct{}
}

// readRings is the read loop shared by every mode over ring buffer maps:
// decode turns one record into an event, detach stops new events when
// ctx ends; wake lets it sleep while the rings stay empty (where it
// cannot, it polls).
func readRings(ctx context.Context, maps []*ebpf.Map, wake wakeMaps, detach func(), decode func([]byte, *event.Event) error, emit func(*event.Event) error, idle func() error) error {
	rds := make([]ringReader, 0, len(maps))
	defer func() {
		for _, rd := range rds {
			rd.Close()
		}
	}()
	for _, m := range maps {
		rd, err := newMmapRing(m)
		if err != nil {
			return fmt.Errorf("opening ring buffer: %w", err)
		}
		rds = append(rds, rd)
	}
	return readReaders(ctx, rds, wake, detach, decode, emit, idle)
}

// readReaders is readRings over open rings, of either kind.
func readReaders(ctx context.Context, rds []ringReader, wake wakeMaps, detach func(), decode func([]byte, *event.Event) error, emit func(*event.Event) error, idle func() error) error {
	size := math.MaxInt
	for _, rd := range rds {
		size = min(size, rd.BufferSize())
	}
	var sl sleeper
	if ws, err := newWakeSleeper(wake, size); err == nil {
		defer ws.Close()
		sl = ws
	}
	return readLoop(ctx, rds, sl, detach, decode, emit, idle)
}

// ringReader reads one ring: an *mmapRing (a ring buffer), a *slotRing
// (a step ring), or in tests a fake
// that needs no BPF map. A drain is Begin, then Next until it returns
// errDrained (or the drain has read enough); the records Next returns
// alias the ring, which keeps them until Release passes their end.
type ringReader interface {
	AvailableBytes() int // written and not read
	BufferSize() int
	Begin()
	Next() (raw []byte, end uint64, err error)
	Cursor() uint64 // the position after the last record read
	Release(pos uint64)
	Close() error
}

// readLoop is readRings once the rings are open. It polls at the interval
// nextPoll sets from what each poll found (pollInterval while events
// trickle in); with a sleeper, once sleepAfter polls in a row found
// nothing read and nothing held, it arms the sleeper, looks once more,
// again after armGrace, and waits for a wake-up, ctx, or sleepCheck (an
// idle tracer then costs no timer wake-ups a second, where polling cost a
// hundred).
func readLoop(ctx context.Context, rds []ringReader, sl sleeper, detach func(), decode func([]byte, *event.Event) error, emit func(*event.Event) error, idle func() error) error {
	qs := make([]*ringQueue, len(rds))
	for i, rd := range rds {
		qs[i] = &ringQueue{rd: rd}
	}
	interval, polled, resumed := pollInterval, time.Now(), false
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var check <-chan time.Time
	if sl != nil {
		t := time.NewTicker(sleepCheck)
		defer t.Stop()
		check = t.C
	}
	empty, armed, watching := 0, false, false
	graced := false // armed, and looked again armGrace after
	grace := time.NewTimer(armGrace)
	grace.Stop()
	defer grace.Stop()
	var ev event.Event
	var active []*ringQueue // handOn's scratch, reused every poll
	detached := false
	for {
		done := ctx.Err() != nil
		if done && !detached {
			detach()
			detached = true
		}
		// Records are held back for reorderSlack only to merge rings:
		// a single ring is handed on as it was written.
		limit := uint64(monotonicNow()) - uint64(reorderSlack)
		if done || len(qs) == 1 {
			limit = math.MaxUint64
		}
		behind, got := false, false
		waiting, fullest := 0, 0.0
		for _, q := range qs {
			n := len(q.recs) - q.next
			avail, full, err := q.drain()
			if err != nil {
				return err
			}
			behind = behind || full
			got = got || len(q.recs)-q.next > n
			if full {
				// The ring holds more, timed from its last record read
				// on: the other rings' records timed after that wait
				// for them, or a path that changed CPU comes out of
				// order.
				limit = min(limit, q.recs[len(q.recs)-1].ts)
			}
			waiting += avail
			if size := q.rd.BufferSize(); size > 0 {
				fullest = max(fullest, float64(avail)/float64(size))
			}
		}
		// The interval follows what a poll found when it began: the
		// drains that go on reading a backlog (behind) are the same poll.
		if !resumed {
			now := time.Now()
			if next := nextPoll(interval, now.Sub(polled), waiting, fullest); next != interval {
				interval = next
				tick.Reset(interval)
			}
			polled = now
		}
		resumed = behind
		var err error
		active, err = handOnWith(active, qs, limit, decode, emit, &ev)
		for _, q := range qs {
			q.release()
		}
		if err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
		if idle != nil {
			// A stage hands events on when idle is called: the stop at
			// --count may come back from there as well as from emit.
			if err := idle(); err != nil {
				if errors.Is(err, ErrStop) {
					return nil
				}
				return err
			}
		}
		if done && !behind {
			return nil // drained
		}
		if behind {
			continue
		}
		if got || held(qs) {
			empty, armed = 0, false
		} else {
			empty++
		}
		if sl != nil && !done && empty >= sleepAfter {
			if !armed {
				watching = false // Arm replaces what Watch asked
				if err := sl.Arm(); err != nil {
					sl = nil // keep polling
				} else {
					armed, graced = true, false
				}
				continue // look once more before sleeping
			}
			var graceC <-chan time.Time
			if !graced {
				grace.Reset(armGrace)
				graceC = grace.C
			}
			select {
			case <-ctx.Done():
			case <-sl.Woken():
				empty, armed = 0, false
			case <-check:
			case <-graceC:
				graced = true
			}
			grace.Stop()
			continue
		}
		// The interval was chosen for the rate the last poll found; a
		// burst far above it wakes the loop before a ring fills.
		var woken <-chan struct{}
		if sl != nil && !done {
			if !watching {
				watching = sl.Watch() == nil
			}
			if watching {
				woken = sl.Woken()
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		case <-woken:
			watching = false
		}
	}
}

// held says a queue holds records not handed on yet.
func held(qs []*ringQueue) bool {
	for _, q := range qs {
		if q.next < len(q.recs) {
			return true
		}
	}
	return false
}

// ringQueue holds the records read from one ring and not yet handed on.
// They stay in the ring, which the programs do not write over until the
// queue releases them: a record is read where the program wrote it, not
// copied first (a copy took a second stream of lines through the caches,
// a megabyte a drain).
type ringQueue struct {
	rd   ringReader
	recs []record // in ring order
	next int      // first record not handed on
}

// record is a record in the ring: raw aliases the ring's memory, valid
// until the queue releases end.
type record struct {
	ts  uint64
	end uint64 // the ring position after the record
	raw []byte
}

// drainMax bounds what one drain reads from a ring, so that a backlog is
// handed on, and its space released, a part at a time.
const drainMax = 1 << 20

// drain reads what the ring holds, at most drainMax bytes, without
// waiting; avail is the bytes the ring held when it started, full says it
// stopped at that bound.
func (q *ringQueue) drain() (avail int, full bool, err error) {
	q.forget()
	// One load of the producer's position: an idle ring costs no system
	// call, which matters with a ring per CPU on a large machine.
	if avail = q.rd.AvailableBytes(); avail == 0 {
		return 0, false, nil
	}
	q.rd.Begin()
	read := 0
	for read < drainMax {
		raw, end, err := q.rd.Next()
		if err == errDrained {
			return avail, false, nil
		}
		if err != nil {
			return avail, false, fmt.Errorf("reading ring buffer: %w", err)
		}
		if len(raw) < 8 {
			return avail, false, fmt.Errorf("short record in ring buffer: %d bytes", len(raw))
		}
		// Every record starts with its event's bpf_ktime_get_ns().
		ts := binary.NativeEndian.Uint64(raw)
		q.recs = append(q.recs, record{ts: ts, end: end, raw: raw})
		read += len(raw)
	}
	return avail, true, nil
}

// release gives the ring the space of the records handed on.
func (q *ringQueue) release() {
	if q.next == len(q.recs) {
		q.rd.Release(q.rd.Cursor()) // the records read, and any discarded after them
	} else if q.next > 0 {
		q.rd.Release(q.recs[q.next-1].end)
	}
}

// forget drops the records handed on (released already) from the queue.
func (q *ringQueue) forget() {
	if q.next == 0 {
		return
	}
	// The slots past the end keep their slices of the ring: mapped
	// memory, which the garbage collector does not follow, and never
	// read again. Clearing them wrote a poll's worth of slots each time.
	n := copy(q.recs, q.recs[q.next:])
	q.recs = q.recs[:n]
	q.next = 0
}

// handOn decodes and emits, oldest first, the queued records timed at or
// before limit.
func handOn(qs []*ringQueue, limit uint64, decode func([]byte, *event.Event) error, emit func(*event.Event) error, ev *event.Event) error {
	_, err := handOnWith(nil, qs, limit, decode, emit, ev)
	return err
}

// handOnWith is handOn with its scratch slice passed in and returned, for
// reuse. Only the queues with a record due are compared: with a ring per
// possible CPU, most are idle. They stay in qs order, so of equal
// timestamps the lower queue's goes first.
func handOnWith(active, qs []*ringQueue, limit uint64, decode func([]byte, *event.Event) error, emit func(*event.Event) error, ev *event.Event) ([]*ringQueue, error) {
	active = active[:0]
	for _, q := range qs {
		if q.due(limit) {
			active = append(active, q)
		}
	}
	for len(active) > 0 {
		bi := 0
		for i, q := range active[1:] {
			if q.recs[q.next].ts < active[bi].recs[active[bi].next].ts {
				bi = i + 1
			}
		}
		best := active[bi]
		r := best.recs[best.next]
		best.next++
		if !best.due(limit) {
			active = slices.Delete(active, bi, bi+1)
		}
		if err := decode(r.raw, ev); err != nil {
			return active, err
		}
		if err := emit(ev); err != nil {
			return active, err
		}
	}
	return active, nil
}

// due says the queue's next record is timed at or before limit.
func (q *ringQueue) due(limit uint64) bool {
	return q.next < len(q.recs) && q.recs[q.next].ts <= limit
}
