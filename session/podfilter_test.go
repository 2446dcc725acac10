package session

import (
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

// rowsWriter keeps the rows it was given.
type rowsWriter struct{ interval, totals []event.SummaryRow }

func (w *rowsWriter) WriteInterval(_ time.Time, rows []event.SummaryRow) error {
	w.interval = rows
	return nil
}

func (w *rowsWriter) WriteTotals(_ time.Time, _ time.Duration, rows []event.SummaryRow) error {
	w.totals = rows
	return nil
}

func TestRetiredNames(t *testing.T) {
	web := &event.Pod{Namespace: "shop", Name: "web"}
	other := &event.Pod{Namespace: "shop", Name: "other"}
	pf := &podFilter{retired: map[uint32]*event.Pod{100: web}}
	rows := func() []event.SummaryRow {
		return []event.SummaryRow{
			{Key: event.SummaryKey{Netns: 100}},             // the pod's first namespace
			{Key: event.SummaryKey{Netns: 100}, Pod: other}, // named by the resolver: kept
			{Key: event.SummaryKey{Netns: 200}},             // another namespace
		}
	}
	want := []*event.Pod{web, other, nil}
	next := &rowsWriter{}
	w := pf.summary(next)
	w.WriteInterval(time.Now(), rows())
	w.WriteTotals(time.Now(), time.Second, rows())
	for _, got := range [][]event.SummaryRow{next.interval, next.totals} {
		for i, r := range got {
			if r.Pod != want[i] {
				t.Errorf("row %d (netns %d): pod %v, want %v", i, r.Key.Netns, r.Pod, want[i])
			}
		}
	}
	if (*podFilter)(nil).summary(next) != next {
		t.Error("without --filter-pod the summary writer is not passed through")
	}
}
