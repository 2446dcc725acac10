package output

import (
	"io"
	"net/netip"
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

// flowSteps are the steps of a followed TCP flow as the tracepoint backend
// reports them: they alternate between the sender's and the receiver's
// namespace and device, and a blind step has neither device nor tuple.
func flowSteps() []*event.Event {
	src, dst := netip.MustParseAddr("10.196.1.1"), netip.MustParseAddr("10.196.1.2")
	t0 := time.Date(2026, 12, 3, 11, 5, 8, 656040000, time.Local)
	var evs []*event.Event
	for i, f := range []string{"tp:net_dev_queue", "tp:net_dev_start_xmit", "tp:netif_rx_entry", "tp:netif_rx", "tp:net_dev_xmit", "tp:netif_receive_skb"} {
		ev := &event.Event{Time: t0.Add(time.Duration(i) * time.Microsecond), Kind: event.KindTrace,
			Skb: 0xffff888154ff42e0, Path: 123456, Func: f, Netns: 4026532178, Ifname: "xcv", Len: 74,
			Proto: "tcp", Src: src, Dst: dst, Sport: 41896, Dport: 5201}
		switch i {
		case 2, 3, 5:
			ev.Netns, ev.Ifname, ev.Len = 4026532247, "xsv", 60
		case 4:
			ev.Proto, ev.Src, ev.Dst, ev.Sport, ev.Dport = "", netip.Addr{}, netip.Addr{}, 0, 0
		}
		evs = append(evs, ev)
	}
	return evs
}

func BenchmarkPathText(b *testing.B) {
	w := NewPathText(io.Discard, false)
	evs := flowSteps()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = w.Write(evs[i%len(evs)])
		i++
	}
}
