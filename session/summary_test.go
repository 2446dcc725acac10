package session

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

var (
	keyA = event.SummaryKey{Reason: "NO_SOCKET", ReasonCode: 2, Proto: "udp"}
	keyB = event.SummaryKey{Reason: "NETFILTER_DROP", ReasonCode: 6, Proto: "tcp", Ifname: "veth0"}
	keyC = event.SummaryKey{Reason: "TCP_CSUM", ReasonCode: 7, Proto: "tcp"}
)

// fakeCounter returns its snapshots in turn (the last one again once
// they run out), and final once detached. It logs the calls.
type fakeCounter struct {
	mu        sync.Mutex
	snapshots []event.Counts
	final     event.Counts
	detached  bool
	log       []string
	countErr  error // from the first SummaryCounts
	detachErr error
}

func (c *fakeCounter) SummaryCounts() (event.Counts, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.countErr != nil {
		return nil, c.countErr
	}
	if c.detached {
		c.log = append(c.log, "final counts")
		return c.final, nil
	}
	c.log = append(c.log, "counts")
	cur := c.snapshots[0]
	if len(c.snapshots) > 1 {
		c.snapshots = c.snapshots[1:]
	}
	return cur, nil
}

func (c *fakeCounter) Detach() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, "detach")
	c.detached = true
	return c.detachErr
}

// fakeSummaryWriter keeps the rows written; after the interval numbered
// endAfter it calls end.
type fakeSummaryWriter struct {
	intervals [][]event.SummaryRow
	totals    [][]event.SummaryRow
	elapsed   time.Duration
	endAfter  int
	end       func()
	err       error
}

func (w *fakeSummaryWriter) WriteInterval(at time.Time, rows []event.SummaryRow) error {
	w.intervals = append(w.intervals, rows)
	if len(w.intervals) == w.endAfter {
		w.end()
	}
	return w.err
}

func (w *fakeSummaryWriter) WriteTotals(at time.Time, elapsed time.Duration, rows []event.SummaryRow) error {
	w.totals = append(w.totals, rows)
	w.elapsed = elapsed
	return w.err
}

// row is what a test checks of a SummaryRow: the rate depends on time.
type row struct {
	key          event.SummaryKey
	count, total uint64
}

func rows(rs []event.SummaryRow) []row {
	out := []row{}
	for _, r := range rs {
		out = append(out, row{r.Key, r.Count, r.Total})
	}
	return out
}

func TestSummaryRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &fakeCounter{
		snapshots: []event.Counts{
			{keyA: 1},
			{keyA: 3, keyB: 5},
			{keyA: 3, keyB: 5}, // a quiet interval
			{keyA: 10, keyB: 6},
		},
		final: event.Counts{keyA: 12, keyB: 6, keyC: 1},
	}
	out := &fakeSummaryWriter{endAfter: 4, end: cancel}
	flush := &counter{}
	s := &Summary{Source: src, Out: out, Interval: time.Millisecond, Flush: flush.call}
	var err error
	within(t, "Summary.Run", func() { err = s.Run(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	wantIntervals := [][]row{
		{{keyA, 1, 1}},
		{{keyB, 5, 5}, {keyA, 2, 3}},
		{},
		{{keyA, 7, 10}, {keyB, 1, 6}},
	}
	if len(out.intervals) < len(wantIntervals) {
		t.Fatalf("%d intervals written, want %d", len(out.intervals), len(wantIntervals))
	}
	for i, want := range wantIntervals {
		if got := rows(out.intervals[i]); !slices.Equal(got, want) {
			t.Errorf("interval %d: %v, want %v", i+1, got, want)
		}
	}
	// The end and a tick can come together: an interval after the end
	// sees no new drops.
	for i, extra := range out.intervals[len(wantIntervals):] {
		if len(extra) != 0 {
			t.Errorf("interval %d after the end: %v, want none", len(wantIntervals)+i+1, rows(extra))
		}
	}
	if len(out.totals) != 1 {
		t.Fatalf("%d totals written, want 1", len(out.totals))
	}
	wantTotals := []row{{keyA, 12, 12}, {keyB, 6, 6}, {keyC, 1, 1}}
	if got := rows(out.totals[0]); !slices.Equal(got, wantTotals) {
		t.Errorf("totals %v, want %v", got, wantTotals)
	}
	if out.elapsed <= 0 {
		t.Errorf("totals over %v, want the run's time", out.elapsed)
	}
	// Totals are read after detaching, so they are final.
	if n := len(src.log); n < 2 || src.log[n-2] != "detach" || src.log[n-1] != "final counts" ||
		slices.Index(src.log, "detach") != n-2 {
		t.Errorf("calls %v, want counts per interval, then detach, then the final counts", src.log)
	}
	if got, want := flush.calls(), len(out.intervals)+1; got != want {
		t.Errorf("%d flushes, want %d: one per interval and one after the totals", got, want)
	}
}

func TestSummaryRunEndedBeforeInterval(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src := &fakeCounter{snapshots: []event.Counts{{keyA: 1}}, final: event.Counts{keyA: 2}}
	out := &fakeSummaryWriter{}
	s := &Summary{Source: src, Out: out, Interval: time.Hour, Flush: func() error { return nil }}
	var err error
	within(t, "Summary.Run", func() { err = s.Run(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	if len(out.intervals) != 0 || len(out.totals) != 1 || !slices.Equal(rows(out.totals[0]), []row{{keyA, 2, 2}}) {
		t.Errorf("intervals %v, totals %v; want no interval and totals of 2 A", out.intervals, out.totals)
	}
}

func TestSummaryRunErrors(t *testing.T) {
	errCount := errors.New("reading the summary map: bad")
	errDetach := errors.New("detaching: bad")
	errWrite := errors.New("write: broken pipe")
	errFlush := errors.New("flush: no space")
	tests := []struct {
		name       string
		countErr   error
		detachErr  error
		writeErr   error
		flushErr   error
		endFirst   bool // the run ends before the first interval
		want       error
		wantTotals bool
	}{
		{name: "counts fail", countErr: errCount, want: errCount},
		{name: "counts fail at the end", countErr: errCount, endFirst: true, want: errCount},
		{name: "interval write fails", writeErr: errWrite, want: errWrite},
		{name: "totals write fails", writeErr: errWrite, endFirst: true, want: errWrite, wantTotals: true},
		{name: "flush fails", flushErr: errFlush, want: errFlush},
		{name: "flush after the totals fails", flushErr: errFlush, endFirst: true, want: errFlush, wantTotals: true},
		{name: "detach fails: no totals", detachErr: errDetach, endFirst: true, want: errDetach},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			interval := time.Millisecond
			if tt.endFirst {
				cancel()
				interval = time.Hour
			}
			src := &fakeCounter{snapshots: []event.Counts{{keyA: 1}}, final: event.Counts{keyA: 1},
				countErr: tt.countErr, detachErr: tt.detachErr}
			out := &fakeSummaryWriter{err: tt.writeErr}
			flush := &counter{failAt: 1, err: tt.flushErr}
			s := &Summary{Source: src, Out: out, Interval: interval, Flush: flush.call}
			var err error
			within(t, "Summary.Run", func() { err = s.Run(ctx) })
			if !errors.Is(err, tt.want) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
			if got := len(out.totals) > 0; got != tt.wantTotals {
				t.Errorf("totals written: %v, want %v", got, tt.wantTotals)
			}
		})
	}
}
