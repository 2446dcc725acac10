package output

import (
	"io"
	"net/netip"
	"strings"
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

// flowSteps are the steps of a followed iperf3 TCP flow over a veth pair
// as the tracepoint backend reports them, in the order a live run
// (6.18) wrote them: data segments and the receiver's ACKs interleaved,
// each crossing the sender's and the receiver's namespace and device,
// blind steps (net_dev_xmit) with neither device nor tuple, socket
// steps with no device, and several paths live at once: nine places and
// five paths in turn, as the text's caches see them.
func flowSteps() []*event.Event {
	cli, srv := netip.MustParseAddr("10.77.0.1"), netip.MustParseAddr("10.77.0.2")
	const nsA, nsB = 4026532173, 4026532238
	t0 := time.Date(2026, 12, 4, 18, 28, 57, 957778994, time.Local)
	// A step: the path (of five), the function, where, which way, and
	// the length; where is 'a' or 'b' (a namespace and its device), 'A'
	// or 'B' (the namespace only), '0' (neither), a '-' after it for no
	// tuple; way is '>' (data, client to server) or '<' (an ACK).
	steps := []struct {
		path      int
		fn, where string
		way       byte
		len       uint32
	}{
		{0, "netif_rx", "b", '>', 65212}, {0, "net_dev_xmit", "a-", '>', 65226}, {0, "netif_receive_skb", "b", '>', 65212},
		{1, "net_dev_queue", "b", '<', 66}, {1, "net_dev_start_xmit", "b", '<', 66},
		{1, "netif_rx", "a", '<', 52}, {1, "net_dev_xmit", "b-", '<', 66}, {1, "netif_receive_skb", "a", '<', 52},
		{0, "tcp_probe", "0", '>', 65192}, {0, "skb_copy_datagram_iovec", "B", '>', 65160},
		{2, "tcp_probe", "0", '<', 32},
		{3, "net_dev_queue", "a", '>', 818}, {3, "net_dev_start_xmit", "a", '>', 818},
		{3, "netif_rx", "b", '>', 804}, {3, "net_dev_xmit", "a-", '>', 818},
		{0, "consume_skb", "0", '>', 65160}, {3, "netif_receive_skb", "b", '>', 804}, {3, "tcp_probe", "0", '>', 784},
		{3, "skb_copy_datagram_iovec", "B", '>', 752},
		{4, "net_dev_queue", "a", '>', 65226}, {4, "net_dev_start_xmit", "a", '>', 65226},
		{4, "netif_rx", "b", '>', 65212}, {4, "net_dev_xmit", "a-", '>', 65226}, {3, "consume_skb", "0", '>', 752},
		{4, "netif_receive_skb", "b", '>', 65212}, {4, "tcp_probe", "0", '>', 65192},
	}
	var evs []*event.Event
	for round := range 4 {
		for i, st := range steps {
			ev := &event.Event{Time: t0.Add(time.Duration(round*len(steps)+i) * 211 * time.Nanosecond), Kind: event.KindTrace,
				Skb: 0xffff88812cd9b000 + uint64(st.path)*0x200, Path: uint64(640 + round*5 + st.path),
				Func: "tp:" + st.fn, Len: st.len, Proto: "tcp", Src: cli, Dst: srv, Sport: 43814, Dport: 5201, TCPFlags: 0x18}
			if st.way == '<' {
				ev.Src, ev.Dst, ev.Sport, ev.Dport, ev.TCPFlags = srv, cli, 5201, 43814, 0x10
			}
			switch st.where[0] {
			case 'a':
				ev.Netns, ev.Ifname = nsA, "va"
			case 'A':
				ev.Netns = nsA
			case 'b':
				ev.Netns, ev.Ifname = nsB, "vb"
			case 'B':
				ev.Netns = nsB
			}
			if strings.HasSuffix(st.where, "-") {
				ev.Proto, ev.Src, ev.Dst, ev.Sport, ev.Dport, ev.TCPFlags = "", netip.Addr{}, netip.Addr{}, 0, 0, 0
			}
			evs = append(evs, ev)
		}
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
