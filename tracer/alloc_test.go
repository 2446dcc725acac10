package tracer

import (
	"net/netip"
	"testing"
	"unsafe"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/event"
)

// stormRecord is a record of what a storm streams: a UDP datagram
// dropped by a firewall rule, without packet bytes.
func stormRecord(ts uint64) []byte {
	re := bpf.DropEvent{Ts: ts, Skb: 0xffff888012345600, Location: 0xffffffffc0000400, Reason: 6,
		Netns: 4026532000, Ifindex: 7, Ifname: ifname("veth-a1b2"), Len: 92, Cpu: 1,
		Kind: uint8(bpf.DropEventKindEVENT_DROP)}
	parseLikeBPF(&re, ipv4(protoUDP, nil, 0, l4(40000, 9, 8)))
	return dropRecord(&re, nil)
}

// TestDecodeAllocs checks that decoding an event without packet bytes
// allocates nothing: names of locations, reasons and devices are kept.
func TestDecodeAllocs(t *testing.T) {
	d, _ := testDecoder()
	raw := stormRecord(1)
	var ev event.Event
	if err := d.Decode(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Reason != "NETFILTER_DROP" || ev.Dst != netip.MustParseAddr("192.0.2.200") || ev.Dport != 9 {
		t.Fatalf("decoded %+v", ev)
	}
	if n := testing.AllocsPerRun(100, func() { _ = d.Decode(raw, &ev) }); n != 0 {
		t.Errorf("%v allocations per event, want 0", n)
	}
}

// TestHandOnAllocs checks that reading records from a ring and handing
// them on, decoded and merged by time, allocates nothing once the
// queue's buffers have grown.
func TestHandOnAllocs(t *testing.T) {
	ring := &fakeRing{}
	q := &ringQueue{rd: ring}
	qs := []*ringQueue{q}
	d, _ := testDecoder()
	var ev event.Event
	var active []*ringQueue // readLoop's scratch, reused
	n := 0
	emit := func(*event.Event) error { n++; return nil }
	recs := make([][]byte, 256)
	round := func() {
		for i := range recs {
			recs[i] = stormRecord(uint64(i + 1))
		}
		ring.recs = recs // Next only reslices
		if _, _, err := q.drain(); err != nil {
			t.Fatal(err)
		}
		var err error
		if active, err = handOnWith(active, qs, ^uint64(0), d.Decode, emit, &ev); err != nil {
			t.Fatal(err)
		}
		q.release()
	}
	round()
	for i := range recs {
		recs[i] = stormRecord(uint64(i + 1))
	}
	allocs := testing.AllocsPerRun(20, func() {
		ring.recs = recs // Next only reslices
		_, _, _ = q.drain()
		active, _ = handOnWith(active, qs, ^uint64(0), d.Decode, emit, &ev)
		q.release()
	})
	if allocs != 0 {
		t.Errorf("%v allocations per %d events, want 0", allocs, len(recs))
	}
	if n != 21*len(recs)+len(recs) {
		t.Errorf("%d events handed on, want %d", n, 22*len(recs))
	}
}

func BenchmarkDecode(b *testing.B) {
	d, _ := testDecoder()
	raw := stormRecord(1)
	var ev event.Event
	b.ReportAllocs()
	for b.Loop() {
		_ = d.Decode(raw, &ev)
	}
}

// flowSteps are the records of a followed TCP flow as the tracepoint
// backend reports them: a path's steps alternate between the sender's and
// the receiver's namespace and device, and a step with no device (blind,
// or a socket's copy) has only its name's first byte written, after
// whatever name the reused buffer held before.
func flowSteps() [][]byte {
	places := []struct {
		netns uint32
		dev   string
	}{{4026532178, "xcv"}, {4026532178, "xcv"}, {4026532247, "xsv"}, {0, "\x00cv"}, {4026532247, "xsv"},
		{0, "\x00sv"}, {0, "\x00cv"}, {0, ""}}
	var recs [][]byte
	for i, p := range places {
		var pe bpf.TracePathEvent
		re := (*bpf.DropEvent)(unsafe.Pointer(&pe.Ev))
		*re = bpf.DropEvent{Ts: uint64(i + 1), Skb: 0xffff888154ff42e0, Netns: p.netns, Ifname: rawName(p.dev),
			Len: 74, Cpu: 1, Kind: uint8(bpf.DropEventKindEVENT_TRACE)}
		if p.netns != 0 {
			parseLikeBPF(re, ipv4(protoTCP, nil, 0, l4(41896, 5201, 20)))
		}
		pe.Path, pe.ProbeId = 12345, uint32(i+1)
		recs = append(recs, pathRecord(&pe)[:offStack])
	}
	return recs
}

// flowProbes name flowSteps' probe ids, from 1.
var flowProbes = []string{"tp:net_dev_queue", "tp:net_dev_start_xmit", "tp:netif_rx", "tp:netif_receive_skb", "tp:net_dev_xmit",
	"tp:tcp_probe", "tp:skb_copy_datagram_iovec", "tp:consume_skb"}

// rawName is s as the kernel's bytes, NULs and what follows them kept.
func rawName(s string) (b [16]int8) {
	for i := range min(len(s), len(b)) {
		b[i] = int8(s[i])
	}
	return b
}

// Following a flow makes no string per step: the device names come from
// the decoder's few, and a step with no device has none, whatever its
// buffer's leftovers.
func TestDecodePathNoAlloc(t *testing.T) {
	d, _ := testDecoder()
	recs := flowSteps()
	var ev event.Event
	decodeAll := func() {
		for _, r := range recs {
			if err := d.DecodePath(r, &ev, flowProbes); err != nil {
				t.Fatal(err)
			}
		}
	}
	decodeAll()
	if n := testing.AllocsPerRun(20, decodeAll); n != 0 {
		t.Errorf("%v allocations per %d steps, want 0", n, len(recs))
	}
	if decodeAll(); ev.Ifname != "" {
		t.Errorf("last step's Ifname = %q, want none", ev.Ifname)
	}
}

func BenchmarkDecodePath(b *testing.B) {
	d, _ := testDecoder()
	recs := flowSteps()
	var ev event.Event
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = d.DecodePath(recs[i%len(recs)], &ev, flowProbes)
		i++
	}
}
