package tracer

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/droptrace/droptrace/event"
)

// queue builds a ringQueue holding records with the given timestamps, as
// drain would have read them: each record starts with its timestamp.
func queue(ts ...uint64) *ringQueue {
	q := &ringQueue{}
	for _, t := range ts {
		raw := make([]byte, 16)
		binary.NativeEndian.PutUint64(raw, t)
		q.recs = append(q.recs, record{ts: t, off: len(q.buf), n: len(raw)})
		q.buf = append(q.buf, raw...)
	}
	return q
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
	// What was held back comes next, after the queues are compacted and
	// more records arrive, still in time order.
	for _, q := range qs {
		q.compact()
	}
	more := queue(90)
	qs[1].recs = append(qs[1].recs, record{ts: 90, off: len(qs[1].buf), n: 16})
	qs[1].buf = append(qs[1].buf, more.buf...)
	if got, want := collect(t, qs, ^uint64(0)), []uint64{60, 70, 80, 90}; !slices.Equal(got, want) {
		t.Fatalf("second hand-on: got %v, want %v", got, want)
	}
	for i, q := range qs {
		q.compact()
		if len(q.recs) != 0 || len(q.buf) != 0 {
			t.Errorf("queue %d not empty after everything was handed on: %d records, %d bytes", i, len(q.recs), len(q.buf))
		}
	}
}

func TestCompactKeepsRecordBytes(t *testing.T) {
	q := queue(1, 2, 3, 4)
	q.next = 2
	q.compact()
	if q.next != 0 || len(q.recs) != 2 {
		t.Fatalf("after compact: next %d, %d records; want 0, 2", q.next, len(q.recs))
	}
	for i, want := range []uint64{3, 4} {
		r := q.recs[i]
		if got := binary.NativeEndian.Uint64(q.buf[r.off:]); got != want || r.ts != want {
			t.Errorf("record %d: bytes say %d, ts %d; want %d", i, got, r.ts, want)
		}
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
