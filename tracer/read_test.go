package tracer

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/event"
)

// queue builds a ringQueue holding records with the given timestamps, as
// drain would have read them from a fakeRing: each record starts with
// its timestamp.
func queue(ts ...uint64) *ringQueue {
	ring := &fakeRing{}
	q := &ringQueue{rd: ring}
	for _, t := range ts {
		q.recs = append(q.recs, ring.read(tsRecord(t)))
	}
	return q
}

// tsRecord is a 16-byte record starting with ts.
func tsRecord(ts uint64) []byte {
	raw := make([]byte, 16)
	binary.NativeEndian.PutUint64(raw, ts)
	return raw
}

// collect runs handOn and returns the timestamps emitted, decoded from
// the records' bytes rather than from the queue's index.
func collect(t *testing.T, qs []*ringQueue, limit uint64) []uint64 {
	t.Helper()
	var got []uint64
	decode := func(raw []byte, ev *event.Event) error {
		ev.Skb = binary.NativeEndian.Uint64(raw)
		return nil
	}
	emit := func(ev *event.Event) error {
		got = append(got, ev.Skb)
		return nil
	}
	if err := handOn(qs, limit, decode, emit, &event.Event{}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestHandOnMergesByTime(t *testing.T) {
	qs := []*ringQueue{queue(10, 30, 50, 70), queue(), queue(20, 40, 60, 80)}
	if got, want := collect(t, qs, 55), []uint64{10, 20, 30, 40, 50}; !slices.Equal(got, want) {
		t.Fatalf("first hand-on: got %v, want %v", got, want)
	}
	// What was held back comes next, after the queues released what was
	// handed on and more records arrive, still in time order.
	for _, q := range qs {
		q.release()
		q.forget()
	}
	qs[1].recs = append(qs[1].recs, qs[1].rd.(*fakeRing).read(tsRecord(90)))
	if got, want := collect(t, qs, ^uint64(0)), []uint64{60, 70, 80, 90}; !slices.Equal(got, want) {
		t.Fatalf("second hand-on: got %v, want %v", got, want)
	}
	for i, q := range qs {
		q.release()
		q.forget()
		if len(q.recs) != 0 {
			t.Errorf("queue %d not empty after everything was handed on: %d records", i, len(q.recs))
		}
		if r := q.rd.(*fakeRing); r.released != r.pos {
			t.Errorf("queue %d: ring released up to %d, want all %d bytes read", i, r.released, r.pos)
		}
	}
}

// TestReleaseKeepsHeldRecords checks that the ring gets back the space of
// the records handed on, and only theirs: the rest are still read from
// the ring.
func TestReleaseKeepsHeldRecords(t *testing.T) {
	q := queue(1, 2, 3, 4)
	ring := q.rd.(*fakeRing)
	q.next = 2
	q.release()
	if want := q.recs[1].end; ring.released != want || want != 32 {
		t.Fatalf("released up to %d, want %d (the end of the second of four 16-byte records)", ring.released, want)
	}
	q.forget()
	if q.next != 0 || len(q.recs) != 2 {
		t.Fatalf("after forget: next %d, %d records; want 0, 2", q.next, len(q.recs))
	}
	for i, want := range []uint64{3, 4} {
		r := q.recs[i]
		if got := binary.NativeEndian.Uint64(r.raw); got != want || r.ts != want {
			t.Errorf("record %d: bytes say %d, ts %d; want %d", i, got, r.ts, want)
		}
	}
	q.next = 2
	q.release()
	if ring.released != 64 {
		t.Errorf("everything handed on: released up to %d, want 64", ring.released)
	}
}

func TestHandOnStopsOnEmitError(t *testing.T) {
	qs := []*ringQueue{queue(1, 2, 3)}
	n := 0
	err := handOn(qs, ^uint64(0), func([]byte, *event.Event) error { return nil }, func(*event.Event) error {
		n++
		if n == 2 {
			return ErrStop
		}
		return nil
	}, &event.Event{})
	if !errors.Is(err, ErrStop) || n != 2 {
		t.Fatalf("handOn: err %v after %d events; want ErrStop after 2", err, n)
	}
}

// fakeRing is a ring buffer reader over records held in memory.
type fakeRing struct {
	recs     [][]byte
	err      error  // returned by Next once the records are read, instead of errDrained
	pos      uint64 // the bytes of the records read
	released uint64 // as Release last said
}

func (r *fakeRing) AvailableBytes() int {
	n := 0
	for _, b := range r.recs {
		n += len(b)
	}
	if r.err != nil {
		n++
	}
	return n
}

// BufferSize is 0: the fake has no bound, and no share of it in use.
func (r *fakeRing) BufferSize() int { return 0 }

func (r *fakeRing) Begin() {}

func (r *fakeRing) Next() ([]byte, uint64, error) {
	if len(r.recs) == 0 {
		if r.err != nil {
			return nil, 0, r.err
		}
		return nil, 0, errDrained
	}
	raw := r.recs[0]
	r.recs = r.recs[1:]
	r.pos += uint64(len(raw))
	return raw, r.pos, nil
}

// read is Next's record for raw, as if it had been in the ring.
func (r *fakeRing) read(raw []byte) record {
	r.pos += uint64(len(raw))
	return record{ts: binary.NativeEndian.Uint64(raw), end: r.pos, raw: raw}
}

func (r *fakeRing) Cursor() uint64 { return r.pos }

func (r *fakeRing) Release(pos uint64) { r.released = max(r.released, pos) }

func (r *fakeRing) Close() error { return nil }

// stamped returns a drop record timed at ts whose Skb names it.
func stamped(ts, skb uint64) []byte {
	return dropRecord(&bpf.DropEvent{Ts: ts, Skb: skb, Kind: uint8(bpf.DropEventKindEVENT_DROP)}, nil)
}

// loopLog runs readLoop over rings with a real decoder and logs, in
// order, the events emitted (by Skb), the idle calls and the detach.
// The first idle call ends ctx, unless idleErr is set.
type loopLog struct {
	steps   []string
	detach  func() // runs in detach, before it is logged
	emitErr func(n int) error
	idleErr error
}

func (l *loopLog) run(t *testing.T, ctx context.Context, rings ...*fakeRing) error {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rds := make([]ringReader, len(rings))
	for i, r := range rings {
		rds[i] = r
	}
	d, _ := testDecoder()
	emitted := 0
	return readLoop(ctx, rds, nil,
		func() {
			if l.detach != nil {
				l.detach()
			}
			l.steps = append(l.steps, "detach")
		},
		d.Decode,
		func(ev *event.Event) error {
			emitted++
			if l.emitErr != nil {
				if err := l.emitErr(emitted); err != nil {
					return err
				}
			}
			l.steps = append(l.steps, strconv.FormatUint(ev.Skb, 10))
			return nil
		},
		func() error {
			l.steps = append(l.steps, "idle")
			if l.idleErr != nil {
				return l.idleErr
			}
			cancel()
			return nil
		})
}

func TestReadLoop(t *testing.T) {
	now := uint64(monotonicNow())
	past := func(d time.Duration) uint64 { return now - uint64(d) }
	future := now + uint64(time.Hour)
	tests := []struct {
		name   string
		rings  func() []*fakeRing
		detach func(rings []*fakeRing) func()
		want   []string
	}{
		{name: "rings merged in time order",
			rings: func() []*fakeRing {
				return []*fakeRing{
					{recs: [][]byte{stamped(past(5*time.Second), 1), stamped(past(3*time.Second), 3), stamped(past(time.Second), 5)}},
					{},
					{recs: [][]byte{stamped(past(4*time.Second), 2), stamped(past(2*time.Second), 4)}},
				}
			},
			want: []string{"1", "2", "3", "4", "5", "idle", "detach", "idle"}},
		{name: "equal times: the lower ring first",
			rings: func() []*fakeRing {
				return []*fakeRing{{recs: [][]byte{stamped(past(time.Second), 1)}}, {recs: [][]byte{stamped(past(time.Second), 2)}}}
			},
			want: []string{"1", "2", "idle", "detach", "idle"}},
		{name: "recent events wait for the others' rings, then drain after detach",
			rings: func() []*fakeRing {
				return []*fakeRing{
					{recs: [][]byte{stamped(past(time.Second), 1), stamped(future+2, 4)}},
					{recs: [][]byte{stamped(future+1, 3), stamped(future+3, 5)}},
					{recs: [][]byte{stamped(past(time.Millisecond*500), 2)}},
				}
			},
			want: []string{"1", "2", "idle", "detach", "3", "4", "5", "idle"}},
		{name: "one ring is handed on at once, with nothing to merge",
			rings: func() []*fakeRing {
				return []*fakeRing{{recs: [][]byte{stamped(past(time.Second), 1), stamped(future, 2)}}}
			},
			want: []string{"1", "2", "idle", "detach", "idle"}},
		{name: "events sent before detach returned are read",
			rings: func() []*fakeRing { return []*fakeRing{{recs: [][]byte{stamped(past(time.Second), 1)}}, {}} },
			detach: func(rings []*fakeRing) func() {
				return func() { rings[1].recs = append(rings[1].recs, stamped(now, 2)) }
			},
			want: []string{"1", "idle", "detach", "2", "idle"}},
		{name: "no rings",
			rings: func() []*fakeRing { return nil },
			want:  []string{"idle", "detach", "idle"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rings := tt.rings()
			l := &loopLog{}
			if tt.detach != nil {
				l.detach = tt.detach(rings)
			}
			if err := l.run(t, context.Background(), rings...); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.steps, tt.want) {
				t.Errorf("got %v\nwant %v", l.steps, tt.want)
			}
		})
	}
}

func TestReadLoopEndedContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := &loopLog{}
	ring := &fakeRing{recs: [][]byte{stamped(uint64(monotonicNow())+uint64(time.Hour), 1)}}
	if err := l.run(t, ctx, ring); err != nil {
		t.Fatal(err)
	}
	if want := []string{"detach", "1", "idle"}; !slices.Equal(l.steps, want) {
		t.Errorf("got %v, want %v", l.steps, want)
	}
}

// TestReadLoopBoundsDrain fills a ring with more than one drain may read:
// the first round hands on what fits in drainMax, and the loop goes on
// without waiting until the ring is empty.
func TestReadLoopBoundsDrain(t *testing.T) {
	perDrain := (drainMax + eventSize - 1) / eventSize
	total := 2*perDrain + 10
	ring := &fakeRing{}
	for i := range total {
		ring.recs = append(ring.recs, stamped(uint64(i+1), uint64(i+1)))
	}
	l := &loopLog{}
	idles := 0
	if err := l.run(t, context.Background(), ring); err != nil {
		t.Fatal(err)
	}
	var emitted []uint64
	for i, s := range l.steps {
		switch s {
		case "idle":
			if idles++; idles == 1 && len(emitted) != perDrain {
				t.Errorf("first round handed on %d events, want %d (drainMax %d)", len(emitted), perDrain, drainMax)
			}
		case "detach":
		default:
			n, _ := strconv.ParseUint(s, 10, 64)
			if n != uint64(len(emitted)+1) {
				t.Fatalf("step %d: event %d after %d events", i, n, len(emitted))
			}
			emitted = append(emitted, n)
		}
	}
	if len(emitted) != total {
		t.Errorf("%d events handed on, want %d", len(emitted), total)
	}
}

// TestReadLoopBoundedDrainKeepsOrder fills one ring with more than a
// drain may read and another with records timed between them: what the
// bounded ring still holds is timed after its last record read, so the
// other ring's later records must wait for it, not come out first (a
// path that changed CPU was printed out of order that way).
func TestReadLoopBoundedDrainKeepsOrder(t *testing.T) {
	perDrain := (drainMax + eventSize - 1) / eventSize
	busy, quiet := &fakeRing{}, &fakeRing{}
	for i := range 2*perDrain + 10 {
		busy.recs = append(busy.recs, stamped(uint64(2*i+1), uint64(2*i+1)))
	}
	for i := range 2 * perDrain {
		if i%100 == 0 {
			quiet.recs = append(quiet.recs, stamped(uint64(2*i+2), uint64(2*i+2)))
		}
	}
	want := len(busy.recs) + len(quiet.recs)
	l := &loopLog{}
	if err := l.run(t, context.Background(), busy, quiet); err != nil {
		t.Fatal(err)
	}
	var last uint64
	n := 0
	for i, s := range l.steps {
		ts, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			continue // idle, detach
		}
		if ts < last {
			t.Fatalf("step %d: event timed %d handed on after one timed %d", i, ts, last)
		}
		last = ts
		n++
	}
	if n != want {
		t.Errorf("%d events handed on, want %d", n, want)
	}
}

func TestReadLoopErrors(t *testing.T) {
	past := uint64(monotonicNow()) - uint64(time.Second)
	errWrite := errors.New("write /dev/stdout: broken pipe")
	errIdle := errors.New("flush failed")
	errRing := errors.New("ring gone")
	tests := []struct {
		name      string
		ring      *fakeRing
		emitErr   func(n int) error
		idleErr   error
		wantErr   error  // errors.Is
		wantText  string // in the error, when wantErr is nil and an error is wanted
		wantSteps []string
	}{
		{name: "ErrStop ends the run without error",
			ring:    &fakeRing{recs: [][]byte{stamped(past, 1), stamped(past+1, 2), stamped(past+2, 3)}},
			emitErr: func(n int) error { return errIf(n == 2, ErrStop) }, wantSteps: []string{"1"}},
		{name: "ErrStop from idle ends the run without error",
			ring:    &fakeRing{recs: [][]byte{stamped(past, 1)}},
			idleErr: ErrStop, wantSteps: []string{"1", "idle"}},
		{name: "a write error ends the run",
			ring:    &fakeRing{recs: [][]byte{stamped(past, 1), stamped(past+1, 2)}},
			emitErr: func(n int) error { return errIf(n == 1, errWrite) }, wantErr: errWrite},
		{name: "an idle error ends the run",
			ring:    &fakeRing{recs: [][]byte{stamped(past, 1)}},
			idleErr: errIdle, wantErr: errIdle, wantSteps: []string{"1", "idle"}},
		{name: "a ring error ends the run",
			ring:    &fakeRing{recs: [][]byte{stamped(past, 1)}, err: errRing},
			wantErr: errRing},
		{name: "a record too short for its time",
			ring:     &fakeRing{recs: [][]byte{make([]byte, 7)}},
			wantText: "short record in ring buffer: 7 bytes"},
		{name: "a record too short for an event",
			ring:     &fakeRing{recs: [][]byte{stamped(past, 1)[:eventSize-1]}},
			wantText: "short event"},
		{name: "a record that claims more packet bytes than it has",
			ring:     &fakeRing{recs: [][]byte{dropRecord(&bpf.DropEvent{Ts: past, CapLen: 64}, make([]byte, 32))}},
			wantText: "event claims 64 packet bytes, has 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &loopLog{emitErr: tt.emitErr, idleErr: tt.idleErr}
			err := l.run(t, context.Background(), tt.ring)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err %v, want %v", err, tt.wantErr)
				}
			case tt.wantText != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantText) {
					t.Errorf("err %v, want one saying %q", err, tt.wantText)
				}
			default:
				if err != nil {
					t.Errorf("err %v, want none", err)
				}
			}
			if tt.wantSteps != nil && !slices.Equal(l.steps, tt.wantSteps) {
				t.Errorf("steps %v, want %v", l.steps, tt.wantSteps)
			}
		})
	}
}

func errIf(cond bool, err error) error {
	if cond {
		return err
	}
	return nil
}

// TestDrainReleasesRing reads a ring three times with everything handed
// on in between: each time the ring gets all its space back, and the
// queue does not grow.
func TestDrainReleasesRing(t *testing.T) {
	ring := &fakeRing{}
	q := &ringQueue{rd: ring}
	var got []uint64
	emit := func(ev *event.Event) error { got = append(got, ev.Skb); return nil }
	d, _ := testDecoder()
	capAfterFirst := 0
	for round := range 3 {
		for i := range 100 {
			n := uint64(round*100 + i + 1)
			ring.recs = append(ring.recs, stamped(n, n))
		}
		if _, full, err := q.drain(); err != nil || full {
			t.Fatalf("round %d: drain: full %v, err %v", round, full, err)
		}
		if err := handOn([]*ringQueue{q}, ^uint64(0), d.Decode, emit, &event.Event{}); err != nil {
			t.Fatal(err)
		}
		q.release()
		if ring.released != ring.pos {
			t.Errorf("round %d: released up to %d of %d bytes read", round, ring.released, ring.pos)
		}
		if round == 0 {
			capAfterFirst = cap(q.recs)
		} else if cap(q.recs) != capAfterFirst {
			t.Errorf("round %d: queue grew from %d to %d records", round, capAfterFirst, cap(q.recs))
		}
	}
	if len(got) != 300 || got[0] != 1 || got[299] != 300 {
		t.Errorf("handed on %d events, %v...%v", len(got), got[:1], got[len(got)-1:])
	}
}

// lockedRing is a fakeRing another goroutine may add records to.
type lockedRing struct {
	mu    sync.Mutex
	ring  fakeRing
	polls int // AvailableBytes calls: one a poll
}

func (r *lockedRing) add(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ring.recs = append(r.ring.recs, b)
}

func (r *lockedRing) AvailableBytes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.polls++
	return r.ring.AvailableBytes()
}

func (r *lockedRing) BufferSize() int { return 0 }

func (r *lockedRing) pollCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.polls
}

func (r *lockedRing) Begin() {}

func (r *lockedRing) Next() ([]byte, uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ring.Next()
}

func (r *lockedRing) Cursor() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ring.Cursor()
}

func (r *lockedRing) Release(pos uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ring.Release(pos)
}

func (r *lockedRing) Close() error { return nil }

// fakeSleeper tells the test of each Arm and Watch call.
type fakeSleeper struct {
	armed   chan struct{}
	watched chan struct{} // nil: not told
	woken   chan struct{}
	onArm   func() // nil: nothing; else called in Arm, before it returns
}

func (s *fakeSleeper) Arm() error {
	if s.onArm != nil {
		s.onArm()
	}
	s.armed <- struct{}{}
	return nil
}

func (s *fakeSleeper) Watch() error {
	if s.watched != nil {
		s.watched <- struct{}{}
	}
	return nil
}

func (s *fakeSleeper) Woken() <-chan struct{} { return s.woken }

// TestReadLoopSleeps: with a sleeper, a loop whose ring stays empty arms
// it after sleepAfter polls and then stops polling; a wake-up brings the
// next event at once, and one that comes without a wake-up is read by
// the sleepCheck look anyway, or by the look armGrace after arming when
// it came just after the look that follows the arming.
func TestReadLoopSleeps(t *testing.T) {
	ring := &lockedRing{}
	armPolls := make(chan int, 8) // the polls when Arm was called
	sl := &fakeSleeper{armed: make(chan struct{}, 8), woken: make(chan struct{}, 1),
		onArm: func() { armPolls <- ring.pollCount() }}
	d, _ := testDecoder()
	ctx, cancel := context.WithCancel(context.Background())
	emitted := make(chan uint64, 8)
	done := make(chan error, 1)
	go func() {
		done <- readLoop(ctx, []ringReader{ring}, sl, func() {}, d.Decode, func(ev *event.Event) error {
			emitted <- ev.Skb
			return nil
		}, nil)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("readLoop: %v", err)
		}
	}()
	waitArmed := func() {
		t.Helper()
		select {
		case <-sl.armed:
		case <-time.After(10 * time.Second):
			t.Fatal("the sleeper was never armed")
		}
	}
	waitEvent := func(want uint64, within time.Duration) {
		t.Helper()
		select {
		case got := <-emitted:
			if got != want {
				t.Fatalf("event %d, want %d", got, want)
			}
		case <-time.After(within):
			t.Fatalf("event %d not read within %v", want, within)
		}
	}
	waitArmed()
	if n := ring.pollCount(); n < sleepAfter {
		t.Errorf("armed after %d polls, want at least %d", n, sleepAfter)
	}
	// Asleep: no polls for a while (the sleepCheck look aside).
	before := ring.pollCount()
	time.Sleep(10 * pollInterval)
	if n := ring.pollCount() - before; n > 2 {
		t.Errorf("%d polls in %v asleep", n, 10*pollInterval)
	}
	// A wake-up: the event comes at once (reorderSlack after its time).
	ring.add(stamped(uint64(monotonicNow()), 1))
	sl.woken <- struct{}{}
	waitEvent(1, sleepCheck/2)
	// Back to polling, then asleep again.
	waitArmed()
	<-armPolls
	<-armPolls
	// No wake-up: the periodic look finds the event.
	ring.add(stamped(uint64(monotonicNow()), 2))
	waitEvent(2, 3*sleepCheck)
	// Armed again. An event that comes just after the look that follows
	// the arming, with no wake-up (a step whose program's load of the
	// flag passed its commit, trace.c): the look armGrace later reads it.
	waitArmed()
	armed := <-armPolls
	deadline := time.Now().Add(10 * time.Second)
	for ring.pollCount() <= armed {
		if time.Now().After(deadline) {
			t.Fatal("no look at the ring after arming")
		}
		time.Sleep(100 * time.Microsecond)
	}
	ring.add(stamped(uint64(monotonicNow()), 3))
	waitEvent(3, sleepCheck/2)
}

func TestNextPoll(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name    string
		cur     time.Duration
		elapsed time.Duration
		waiting int
		fullest float64
		want    time.Duration
	}{
		{"quiet stays short", pollInterval, pollInterval, 100, 0.001, pollInterval},
		{"quiet after a flood goes back at once", pollMax, pollMax, 0, 0, pollInterval},
		{"busy doubles", pollInterval, pollInterval, busyBytes, 0.01, 2 * pollInterval},
		{"busy doubles up to pollMax", pollMax, pollMax, 4 << 20, 0.1, pollMax},
		{"busy doubles only while the busiest ring stays under a quarter", 80 * ms, 80 * ms, 3 << 20, 0.2, 100 * ms},
		{"a ring at a quarter holds", 80 * ms, 80 * ms, 3 << 20, 0.25, 80 * ms},
		{"a ring over a quarter shortens to its rate", pollMax, pollMax, 8 << 20, 0.5, pollMax / 2},
		{"a backlog after a short wait polls at once", 40 * ms, 2 * ms, 8 << 20, 0.5, pollInterval},
		{"between quiet and busy holds", 40 * ms, 40 * ms, busyBytes / 2, 0.01, 40 * ms},
		{"never under pollInterval", pollInterval, pollInterval, 16 << 20, 1, pollInterval},
		{"no size known: doubling alone", pollInterval, pollInterval, busyBytes, 0, 2 * pollInterval},
	} {
		if got := nextPoll(c.cur, c.elapsed, c.waiting, c.fullest); got != c.want {
			t.Errorf("%s: nextPoll(%v, %v, %d, %.3f) = %v, want %v", c.name, c.cur, c.elapsed, c.waiting, c.fullest, got, c.want)
		}
	}
}

// steadyRing is a lockedRing that gains an event at every poll: the read
// loop never finds it empty, so never sleeps.
type steadyRing struct {
	lockedRing
	skb uint64
}

func (r *steadyRing) AvailableBytes() int {
	r.mu.Lock()
	r.skb++
	r.ring.recs = append(r.ring.recs, stamped(uint64(monotonicNow()), r.skb))
	r.mu.Unlock()
	return r.lockedRing.AvailableBytes()
}

// TestReadLoopWatches: between two polls the loop asks the programs to
// wake it should a burst fill a ring (Watch), once, not at every poll,
// and a wake-up ends that wait and makes it ask again.
func TestReadLoopWatches(t *testing.T) {
	ring := &steadyRing{}
	sl := &fakeSleeper{armed: make(chan struct{}, 8), watched: make(chan struct{}, 8), woken: make(chan struct{}, 1)}
	d, _ := testDecoder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- readLoop(ctx, []ringReader{ring}, sl, func() {}, d.Decode, func(*event.Event) error { return nil }, nil)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("readLoop: %v", err)
		}
	}()
	waitWatched := func(what string) {
		t.Helper()
		select {
		case <-sl.watched:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Watch was not called", what)
		}
	}
	waitPolls := func(n int) {
		t.Helper()
		want := ring.pollCount() + n
		for deadline := time.Now().Add(10 * time.Second); ring.pollCount() < want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("fewer than %d polls in 10s", n)
			}
		}
	}
	waitWatched("before the first wait")
	waitPolls(3)
	select {
	case <-sl.watched:
		t.Fatal("Watch called again with no wake-up in between")
	default:
	}
	sl.woken <- struct{}{}
	waitWatched("after a wake-up")
	select {
	case <-sl.armed:
		t.Error("the loop slept, though every poll found an event")
	default:
	}
}
