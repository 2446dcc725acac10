package output

import (
	"io"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

// streamEvent is what a storm streams: a UDP drop attributed to an
// iptables rule, as the netfilter annotator leaves it (a copy of the
// flow's attribution, sharing its rule).
func streamEvent() *event.Event {
	ev := *netfilterEvents(time.Local)[0]
	ev.Proto, ev.Dport = "udp", 9
	return &ev
}

// TestTextAllocs checks that an event costs no allocations once the line
// buffer has grown, attributed to a rule or not.
func TestTextAllocs(t *testing.T) {
	for _, ev := range append(testEvents(time.Local), streamEvent()) {
		w := NewText(io.Discard)
		if err := w.Write(ev); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if n := testing.AllocsPerRun(100, func() { _ = w.Write(ev) }); n != 0 {
			t.Errorf("%s event at %v: %v allocations per event, want 0", ev.Kind, ev.Time.Nanosecond()/1000, n)
		}
	}
}

func BenchmarkText(b *testing.B) {
	w := NewText(io.Discard)
	ev := streamEvent()
	b.ReportAllocs()
	for b.Loop() {
		ev.Time = ev.Time.Add(time.Microsecond)
		_ = w.Write(ev)
	}
}

func BenchmarkJSON(b *testing.B) {
	w := NewJSON(io.Discard)
	ev := streamEvent()
	b.ReportAllocs()
	for b.Loop() {
		_ = w.Write(ev)
	}
}

// TestJSONAllocs checks that an event costs no allocations once the line
// buffer has grown and its rule was encoded, attributed to a rule or not.
func TestJSONAllocs(t *testing.T) {
	for _, ev := range append(testEvents(time.Local), streamEvent()) {
		w := NewJSON(io.Discard)
		if err := w.Write(ev); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if n := testing.AllocsPerRun(100, func() { _ = w.Write(ev) }); n != 0 {
			t.Errorf("%s event at %v: %v allocations per event, want 0", ev.Kind, ev.Time.Nanosecond()/1000, n)
		}
	}
}
