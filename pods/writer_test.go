package pods

import (
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

// The Resolver can also run in the session's annotation stage.
var _ interface{ Annotate(*event.Event) } = (*Resolver)(nil)

type recorder struct {
	events []*event.Event
	rows   []event.SummaryRow
}

func (r *recorder) Write(ev *event.Event) error { r.events = append(r.events, ev); return nil }
func (r *recorder) Close() error                { return nil }
func (r *recorder) WriteInterval(_ time.Time, rows []event.SummaryRow) error {
	r.rows = append(r.rows, rows...)
	return nil
}
func (r *recorder) WriteTotals(_ time.Time, _ time.Duration, rows []event.SummaryRow) error {
	r.rows = append(r.rows, rows...)
	return nil
}

// TestWriters checks that the wrapping writers name events and summary
// rows before the outputs see them.
func TestWriters(t *testing.T) {
	f := newFakeSystem(t)
	f.process(1, 100, "0::/init.scope\n")
	f.process(5, 500, "0::/machine.slice/vm.scope\n")
	r := newFakeResolver(t, f)
	var rec recorder
	if err := r.Writer(&rec).Write(&event.Event{Netns: 500}); err != nil {
		t.Fatal(err)
	}
	sw := r.SummaryWriter(&rec)
	sw.WriteInterval(time.Now(), []event.SummaryRow{{Key: event.SummaryKey{Netns: 500}}})
	sw.WriteTotals(time.Now(), time.Second, []event.SummaryRow{{Key: event.SummaryKey{Netns: 100}}})
	if p := rec.events[0].Pod; p == nil || p.Container != "/machine.slice/vm.scope" {
		t.Errorf("event: %+v", p)
	}
	if p := rec.rows[0].Pod; p == nil || p.Container != "/machine.slice/vm.scope" {
		t.Errorf("interval row: %+v", p)
	}
	if p := rec.rows[1].Pod; p != nil {
		t.Errorf("host row: %+v, want nil", p)
	}
}
