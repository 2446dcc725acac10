package tracer

import (
	"maps"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/event"
)

func TestSummaryKey(t *testing.T) {
	named, _ := testDecoder()
	bare := &Decoder{}
	tests := []struct {
		name   string
		dec    *Decoder
		key    bpf.DropSummaryKey
		ifname string
		want   event.SummaryKey
	}{
		{name: "udp drop on a device", dec: named,
			key:    bpf.DropSummaryKey{Location: 0xffffffffc0000400, Reason: 6, Netns: 4026532000, Ifindex: 7, L4proto: protoUDP},
			ifname: "veth0",
			want: event.SummaryKey{Reason: "NETFILTER_DROP", ReasonCode: 6, Location: "nft_do_chain+0x4f0 [nf_tables]",
				LocationAddr: 0xffffffffc0000400, Netns: 4026532000, Ifindex: 7, Ifname: "veth0", Proto: "udp"}},
		{name: "no ip header", dec: named,
			key:  bpf.DropSummaryKey{Location: 0xffffffff81000010, Reason: 2},
			want: event.SummaryKey{Reason: "NO_SOCKET", ReasonCode: 2, Location: "kfree_skb_reason+0x10", LocationAddr: 0xffffffff81000010}},
		{name: "protocol by number, reason unknown", dec: named,
			key: bpf.DropSummaryKey{Location: 0xffffffff81000020, Reason: 0x30001, L4proto: protoSCTP},
			want: event.SummaryKey{Reason: "UNKNOWN(0x30001)", ReasonCode: 0x30001, Location: "ip_rcv_finish+0x20",
				LocationAddr: 0xffffffff81000020, Proto: "132"}},
		{name: "icmp6", dec: named,
			key:    bpf.DropSummaryKey{Location: 0xffffffff81000020, Reason: 2, L4proto: protoICMPv6, Ifindex: 1},
			ifname: "lo",
			want: event.SummaryKey{Reason: "NO_SOCKET", ReasonCode: 2, Location: "ip_rcv_finish+0x20",
				LocationAddr: 0xffffffff81000020, Ifindex: 1, Ifname: "lo", Proto: "icmp6"}},
		{name: "without names", dec: bare,
			key:  bpf.DropSummaryKey{Location: 0xffffffff81000010, Reason: 77, L4proto: protoTCP},
			want: event.SummaryKey{ReasonCode: 77, LocationAddr: 0xffffffff81000010, Proto: "tcp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.dec.summaryKey(tt.key, tt.ifname); got != tt.want {
				t.Errorf("summaryKey:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestSummaryKeyMatchesEvent checks that a drop counted in the kernel
// (--summary) and the same drop sent as an event get the same key, so
// metrics and summaries agree across modes.
func TestSummaryKeyMatchesEvent(t *testing.T) {
	tests := []struct {
		name string
		pkt  []byte // network header on; nil for a packet without one
	}{
		{"udp", ipv4(protoUDP, nil, 0, l4(1, 2, 8))},
		{"tcp over ipv6 with extension headers", ipv6(protoHopOpts, ext6(protoTCP, 0, l4(1, 2, 20)))},
		{"icmp", ipv4(protoICMP, nil, 0, make([]byte, 8))},
		{"not ip", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_DROP), Location: 0xffffffffc0000400, Reason: 6,
				Netns: 4026532000, Ifindex: 7, Ifname: ifname("veth0")}
			if tt.pkt != nil {
				parseLikeBPF(&re, tt.pkt)
			}
			d, _ := testDecoder()
			var ev event.Event
			if err := d.Decode(dropRecord(&re, nil), &ev); err != nil {
				t.Fatal(err)
			}
			// summary.h counts by the protocol that parse_skb finds.
			k := bpf.DropSummaryKey{Location: re.Location, Reason: re.Reason, Netns: re.Netns, Ifindex: re.Ifindex, L4proto: re.L4proto}
			if got, want := d.summaryKey(k, "veth0"), ev.SummaryKey(); got != want {
				t.Errorf("kernel summary key %+v, event's %+v", got, want)
			}
		})
	}
}

// TestSizeMaps checks the map sizes each mode loads with: event mode
// needs no summary, summary mode its bounded keys.
func TestSizeMaps(t *testing.T) {
	tests := []struct {
		cfg                  Config
		wantKeys, wantDevice uint32
	}{
		{Config{}, 1, 1},
		{Config{SummaryKeys: 99}, 1, 1},
		{Config{Summary: true}, DefaultSummaryKeys, maxDevices},
		{Config{Summary: true, SummaryKeys: 100}, 100, maxDevices},
		{Config{Summary: true, SummaryKeys: -1}, DefaultSummaryKeys, maxDevices},
	}
	for _, tt := range tests {
		spec := loadDropSpec(t)
		sizeMaps(spec, tt.cfg)
		gotKeys, gotDev := spec.Maps[bpf.DropMapSummary].MaxEntries, spec.Maps[bpf.DropMapIfnames].MaxEntries
		if gotKeys != tt.wantKeys || gotDev != tt.wantDevice {
			t.Errorf("%+v: summary %d keys, ifnames %d; want %d, %d", tt.cfg, gotKeys, gotDev, tt.wantKeys, tt.wantDevice)
		}
	}
}

func loadDropSpec(t *testing.T) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := bpf.LoadDrop()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// TestSummaryMerge reads the kernel's counts several times, as the
// summary loop and a metrics scrape do, with each CPU's pending run of
// drops moving into the map between the reads.
func TestSummaryMerge(t *testing.T) {
	a := bpf.DropSummaryKey{Location: 0xffffffff81000010, Reason: 2, L4proto: protoUDP}
	b := bpf.DropSummaryKey{Location: 0xffffffff81000010, Reason: 6, L4proto: protoTCP, Ifindex: 3}
	c := bpf.DropSummaryKey{Location: 0xffffffff81000020, Reason: 2}
	pending := func(k bpf.DropSummaryKey, n uint64) bpf.DropSummaryPending {
		return bpf.DropSummaryPending{Key: k, Count: n}
	}
	reads := []struct {
		name    string
		inMap   map[bpf.DropSummaryKey]uint64
		pending []bpf.DropSummaryPending // one per CPU
		want    map[bpf.DropSummaryKey]uint64
	}{
		{name: "runs not yet in the map count",
			inMap:   map[bpf.DropSummaryKey]uint64{a: 5},
			pending: []bpf.DropSummaryPending{pending(a, 3), pending(b, 2), {}},
			want:    map[bpf.DropSummaryKey]uint64{a: 8, b: 2}},
		{name: "a run that moved between the two reads is not lost",
			// A's run of 3 moved into the map after the map was read and
			// before the pending runs were: read once as neither.
			inMap:   map[bpf.DropSummaryKey]uint64{a: 5, b: 2},
			pending: []bpf.DropSummaryPending{pending(c, 1), {}, {}},
			want:    map[bpf.DropSummaryKey]uint64{a: 8, b: 2, c: 1}},
		{name: "then read whole",
			inMap:   map[bpf.DropSummaryKey]uint64{a: 8, b: 2},
			pending: []bpf.DropSummaryPending{pending(c, 4), pending(a, 1), {}},
			want:    map[bpf.DropSummaryKey]uint64{a: 9, b: 2, c: 4}},
		{name: "an empty pending slot adds no key",
			inMap:   map[bpf.DropSummaryKey]uint64{a: 9, b: 2, c: 4},
			pending: []bpf.DropSummaryPending{{Key: bpf.DropSummaryKey{Reason: 99}}, {}, {}},
			want:    map[bpf.DropSummaryKey]uint64{a: 9, b: 2, c: 4}},
	}
	var st summaryState
	for _, r := range reads {
		got := st.merge(maps.Clone(r.inMap), r.pending)
		if !maps.Equal(got, r.want) {
			t.Errorf("%s: got %v, want %v", r.name, got, r.want)
		}
	}
}
