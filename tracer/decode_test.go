package tracer

import (
	"bytes"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/event"
)

const (
	etherIPv4 = 0x0800
	etherIPv6 = 0x86dd
	etherARP  = 0x0806
)

// TestDecodeTuple feeds records filled from real packet bytes, as the
// kernel side fills them, and checks the addresses, protocol and ports
// the decoder reads back, and that the packet bytes come through whole.
func TestDecodeTuple(t *testing.T) {
	const (
		want4src = "10.1.2.3"
		want4dst = "192.0.2.200"
		want6src = "2001:db8:1::1234"
		want6dst = "2001:db8:2::abcd:b"
	)
	tests := []struct {
		name         string
		link         bpf.DropLinkKind
		etherType    uint16
		pkt          []byte // from the start of the capture: Ethernet or IP header
		src, dst     string // "" for none
		proto        string
		sport, dport uint16
	}{
		{name: "ipv4 udp", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv4,
			pkt: ipv4(protoUDP, nil, 0, l4(5353, 53, 8)),
			src: want4src, dst: want4dst, proto: "udp", sport: 5353, dport: 53},
		{name: "ipv4 tcp in ethernet", link: bpf.DropLinkKindLINK_ETHERNET, etherType: etherIPv4,
			pkt: eth(etherIPv4, ipv4(protoTCP, nil, 0, l4(40000, 443, 20))),
			src: want4src, dst: want4dst, proto: "tcp", sport: 40000, dport: 443},
		{name: "ipv4 tcp with options", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv4,
			pkt: ipv4(protoTCP, []byte{0x94, 4, 0, 0, 1, 1, 1, 0}, 0, l4(1234, 8080, 20)),
			src: want4src, dst: want4dst, proto: "tcp", sport: 1234, dport: 8080},
		{name: "ipv4 udp first fragment", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv4,
			pkt: ipv4(protoUDP, nil, 0x2000, l4(7, 9, 8)), // MF, offset 0
			src: want4src, dst: want4dst, proto: "udp", sport: 7, dport: 9},
		{name: "ipv4 udp later fragment has no ports", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv4,
			pkt: ipv4(protoUDP, nil, 185, l4(7, 9, 8)), // offset 1480 bytes
			src: want4src, dst: want4dst, proto: "udp"},
		{name: "ipv4 sctp", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv4,
			pkt: ipv4(protoSCTP, nil, 0, l4(3868, 3869, 12)),
			src: want4src, dst: want4dst, proto: "132", sport: 3868, dport: 3869},
		{name: "ipv4 udplite", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv4,
			pkt: ipv4(protoUDPLite, nil, 0, l4(6000, 6001, 8)),
			src: want4src, dst: want4dst, proto: "136", sport: 6000, dport: 6001},
		{name: "ipv4 icmp has no ports", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv4,
			pkt: ipv4(protoICMP, nil, 0, []byte{8, 0, 0xf7, 0xff, 0, 1, 0, 1}),
			src: want4src, dst: want4dst, proto: "icmp"},
		{name: "ipv4 gre by number", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv4,
			pkt: ipv4(47, nil, 0, l4(1, 2, 4)),
			src: want4src, dst: want4dst, proto: "47"},
		{name: "ipv6 tcp", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv6,
			pkt: ipv6(protoTCP, l4(50000, 22, 20)),
			src: want6src, dst: want6dst, proto: "tcp", sport: 50000, dport: 22},
		{name: "ipv6 udp in ethernet", link: bpf.DropLinkKindLINK_ETHERNET, etherType: etherIPv6,
			pkt: eth(etherIPv6, ipv6(protoUDP, l4(546, 547, 8))),
			src: want6src, dst: want6dst, proto: "udp", sport: 546, dport: 547},
		{name: "ipv6 hop-by-hop routing dstopts", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv6,
			pkt: ipv6(protoHopOpts, ext6(protoRouting, 0, ext6(protoDstOpts, 2, ext6(protoUDP, 1, l4(4789, 4790, 8))))),
			src: want6src, dst: want6dst, proto: "udp", sport: 4789, dport: 4790},
		{name: "ipv6 first fragment", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv6,
			pkt: ipv6(protoFragment, frag6(protoUDP, 0, true, l4(123, 124, 8))),
			src: want6src, dst: want6dst, proto: "udp", sport: 123, dport: 124},
		{name: "ipv6 hop-by-hop then later fragment has no ports", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv6,
			pkt: ipv6(protoHopOpts, ext6(protoFragment, 0, frag6(protoTCP, 181, false, l4(123, 124, 20)))),
			src: want6src, dst: want6dst, proto: "tcp"},
		{name: "ipv6 sctp after dstopts", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv6,
			pkt: ipv6(protoDstOpts, ext6(protoSCTP, 0, l4(36412, 36412, 12))),
			src: want6src, dst: want6dst, proto: "132", sport: 36412, dport: 36412},
		{name: "ipv6 five extension headers: the fifth is not parsed", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv6,
			pkt: ipv6(protoHopOpts, ext6(protoDstOpts, 0, ext6(protoRouting, 0, ext6(protoDstOpts, 0, ext6(protoDstOpts, 0, ext6(protoUDP, 0, l4(1, 2, 8))))))),
			src: want6src, dst: want6dst, proto: "60"},
		{name: "ipv6 icmp6", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv6,
			pkt: ipv6(protoICMPv6, []byte{128, 0, 0, 0, 0, 1, 0, 1}),
			src: want6src, dst: want6dst, proto: "icmp6"},
		{name: "ipv6 no next header", link: bpf.DropLinkKindLINK_RAW_IP, etherType: etherIPv6,
			pkt: ipv6(protoNoNext, nil), src: want6src, dst: want6dst, proto: "59"},
		{name: "arp has no tuple", link: bpf.DropLinkKindLINK_ETHERNET, etherType: etherARP,
			pkt: eth(etherARP, make([]byte, 28))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_DROP), Link: uint8(tt.link),
				CapLen: uint16(len(tt.pkt)), OrigLen: uint32(len(tt.pkt)) + 100,
				Protocol: inMemory16([]byte{byte(tt.etherType >> 8), byte(tt.etherType)})}
			nh := tt.pkt
			if tt.link == bpf.DropLinkKindLINK_ETHERNET {
				nh = tt.pkt[14:]
			}
			if tt.etherType != etherARP {
				parseLikeBPF(&re, nh)
			}
			d, _ := testDecoder()
			var ev event.Event
			if err := d.Decode(dropRecord(&re, tt.pkt), &ev); err != nil {
				t.Fatal(err)
			}
			if got, want := addrString(ev.Src), tt.src; got != want {
				t.Errorf("Src = %s, want %s", got, want)
			}
			if got, want := addrString(ev.Dst), tt.dst; got != want {
				t.Errorf("Dst = %s, want %s", got, want)
			}
			if got, want := ev.Proto, tt.proto; got != want {
				t.Errorf("Proto = %q, want %q", got, want)
			}
			if got, want := [2]uint16{ev.Sport, ev.Dport}, [2]uint16{tt.sport, tt.dport}; got != want {
				t.Errorf("ports = %d, want %d", got, want)
			}
			if got, want := ev.EtherType, tt.etherType; got != want {
				t.Errorf("EtherType = %#04x, want %#04x", got, want)
			}
			if !bytes.Equal(ev.Packet, tt.pkt) {
				t.Errorf("Packet = % x, want % x", ev.Packet, tt.pkt)
			}
			wantLink := map[bpf.DropLinkKind]event.LinkType{
				bpf.DropLinkKindLINK_ETHERNET: event.LinkEthernet, bpf.DropLinkKindLINK_RAW_IP: event.LinkRawIP,
			}[tt.link]
			if got, want := ev.LinkType, wantLink; got != want {
				t.Errorf("LinkType = %d, want %d", got, want)
			}
			if got, want := ev.OrigLen, uint32(len(tt.pkt))+100; got != want {
				t.Errorf("OrigLen = %d, want %d", got, want)
			}
		})
	}
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// TestDecodeFields checks every field a drop record carries besides the
// tuple and the packet, against a whole expected Event.
func TestDecodeFields(t *testing.T) {
	re := bpf.DropEvent{
		Ts:         5_000_000_123,
		Skb:        0xffff888012345600,
		Location:   0xffffffffc0000400,
		Reason:     6,
		Netns:      4026532000,
		Ifindex:    7,
		Mark:       0xcafe,
		Len:        1500,
		Cpu:        1,
		Protocol:   inMemory16([]byte{0x86, 0xdd}),
		Kind:       uint8(bpf.DropEventKindEVENT_DROP),
		Ifname:     ifname("veth-a1b2"),
		SockCookie: 0x1122334455,
		TcpState:   1,
		SkSrcLocal: 1,
	}
	d, _ := testDecoder()
	var got event.Event
	if err := d.Decode(dropRecord(&re, nil), &got); err != nil {
		t.Fatal(err)
	}
	want := event.Event{
		Time:         time.Unix(0, testEpoch+5_000_000_123),
		Kind:         event.KindDrop,
		Reason:       "NETFILTER_DROP",
		ReasonCode:   6,
		Location:     "nft_do_chain+0x4f0 [nf_tables]",
		LocationAddr: 0xffffffffc0000400,
		Netns:        4026532000,
		Ifindex:      7,
		Ifname:       "veth-a1b2",
		Mark:         0xcafe,
		EtherType:    0x86dd,
		Len:          1500,
		CPU:          1,
		Skb:          0xffff888012345600,
		TCPState:     "ESTABLISHED",
		SockCookie:   0x1122334455,
		SockSrcLocal: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode:\n got %+v\nwant %+v", got, want)
	}
}

// TestDecodeResetsEvent decodes into an Event that held another one: no
// field of the first may survive.
func TestDecodeResetsEvent(t *testing.T) {
	d, _ := testDecoder()
	full := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_DROP), Location: 0xffffffff81000010, Reason: 2,
		Ifname: ifname("eth0"), TcpState: 1, SockCookie: 9, SkSrcLocal: 1, Link: uint8(bpf.DropLinkKindLINK_RAW_IP)}
	pkt := ipv4(protoUDP, nil, 0, l4(1, 2, 8))
	parseLikeBPF(&full, pkt)
	full.CapLen, full.OrigLen = uint16(len(pkt)), uint32(len(pkt))
	ev := event.Event{Func: "ip_rcv", Stack: []string{"x"}, TCPInfo: &event.TCPInfo{}}
	if err := d.Decode(dropRecord(&full, pkt), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Packet == nil || !ev.Src.IsValid() || ev.Func != "" || ev.Stack != nil || ev.TCPInfo != nil {
		t.Fatalf("first decode: %+v", ev)
	}
	bare := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_DROP), Ts: 1}
	if err := d.Decode(dropRecord(&bare, nil), &ev); err != nil {
		t.Fatal(err)
	}
	want := event.Event{Time: time.Unix(0, testEpoch+1), Kind: event.KindDrop, Reason: "NOT_DROPPED_YET"}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("second decode:\n got %+v\nwant %+v", ev, want)
	}
}

func TestDecodeCapLen(t *testing.T) {
	pkt := bytes.Repeat([]byte{0xab}, MaxSnaplen+8)
	tests := []struct {
		name    string
		capLen  int
		data    int // packet bytes after the record
		link    bpf.DropLinkKind
		want    int // bytes in ev.Packet
		wantErr bool
	}{
		{name: "none", capLen: 0, data: 0, link: bpf.DropLinkKindLINK_NONE},
		{name: "none with trailing bytes", capLen: 0, data: 8, link: bpf.DropLinkKindLINK_NONE},
		{name: "one byte", capLen: 1, data: 1, link: bpf.DropLinkKindLINK_RAW_IP, want: 1},
		{name: "exact", capLen: 96, data: 96, link: bpf.DropLinkKindLINK_ETHERNET, want: 96},
		{name: "record longer than cap", capLen: 64, data: 72, link: bpf.DropLinkKindLINK_ETHERNET, want: 64},
		{name: "max snaplen", capLen: MaxSnaplen, data: MaxSnaplen, link: bpf.DropLinkKindLINK_RAW_IP, want: MaxSnaplen},
		{name: "cap beyond record", capLen: 100, data: 99, link: bpf.DropLinkKindLINK_RAW_IP, wantErr: true},
		{name: "cap without bytes", capLen: MaxSnaplen, data: 0, link: bpf.DropLinkKindLINK_RAW_IP, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_DROP), CapLen: uint16(tt.capLen), Link: uint8(tt.link), OrigLen: 5000}
			raw := dropRecord(&re, pkt[:tt.data])
			d, _ := testDecoder()
			var ev event.Event
			err := d.Decode(raw, &ev)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "packet bytes") {
					t.Fatalf("Decode: err %v, want one about packet bytes", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(ev.Packet), tt.want; got != want {
				t.Errorf("len(Packet) = %d, want %d", got, want)
			}
			wantOrig, wantLink := uint32(0), event.LinkNone
			if tt.want > 0 {
				wantOrig = 5000
				wantLink = map[bpf.DropLinkKind]event.LinkType{
					bpf.DropLinkKindLINK_ETHERNET: event.LinkEthernet, bpf.DropLinkKindLINK_RAW_IP: event.LinkRawIP,
				}[tt.link]
			}
			if ev.OrigLen != wantOrig || ev.LinkType != wantLink {
				t.Errorf("OrigLen, LinkType = %d, %d; want %d, %d", ev.OrigLen, ev.LinkType, wantOrig, wantLink)
			}
			if tt.want > 0 {
				// The packet is a copy: the ring's bytes are reused.
				raw[eventSize] ^= 0xff
				if ev.Packet[0] != 0xab {
					t.Errorf("Packet aliases the record")
				}
			}
		})
	}
}

func TestDecodeUnknownLinkKeepsBytes(t *testing.T) {
	re := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_DROP), CapLen: 4, Link: 9, OrigLen: 4}
	d, _ := testDecoder()
	var ev event.Event
	if err := d.Decode(dropRecord(&re, []byte{1, 2, 3, 4}), &ev); err != nil {
		t.Fatal(err)
	}
	if got, want := ev.LinkType, event.LinkNone; got != want || len(ev.Packet) != 4 {
		t.Errorf("LinkType %d with %d bytes, want %d with 4", got, len(ev.Packet), want)
	}
}

func TestDecodeShortRecord(t *testing.T) {
	d, _ := testDecoder()
	for _, n := range []int{0, 8, eventSize - 1} {
		var ev event.Event
		err := d.Decode(make([]byte, n), &ev)
		if err == nil || !strings.Contains(err.Error(), "short event") {
			t.Errorf("Decode of %d bytes: err %v, want a short event error", n, err)
		}
	}
}

func TestDecodeIfname(t *testing.T) {
	d, _ := testDecoder()
	withGarbage := ifname("lo")
	copy(withGarbage[3:], []int8{'x', 'y', 'z'}) // bytes after the NUL, as the direct read copies them
	seq := []struct {
		raw  [16]int8
		want string
	}{
		{ifname("eth0"), "eth0"},
		{ifname("eth0"), "eth0"},
		{ifname("veth1"), "veth1"},
		{ifname(""), ""},
		{ifname("eth0"), "eth0"},
		{ifname("abcdefghijklmno"), "abcdefghijklmno"},
		{ifname("abcdefghijklmnop"), "abcdefghijklmnop"}, // 16 bytes, no NUL
		{withGarbage, "lo"},
		{ifname(""), ""},
	}
	for i, s := range seq {
		re := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_DROP), Ifname: s.raw}
		var ev event.Event
		if err := d.Decode(dropRecord(&re, nil), &ev); err != nil {
			t.Fatal(err)
		}
		if got := ev.Ifname; got != s.want {
			t.Errorf("event %d: Ifname = %q, want %q", i, got, s.want)
		}
	}
}

func TestDecodeLocation(t *testing.T) {
	d, syms := testDecoder()
	seq := []struct {
		addr uint64
		want string
	}{
		{0xffffffff81000010, "kfree_skb_reason+0x10"},
		{0xffffffff81000010, "kfree_skb_reason+0x10"},
		{0, ""},
		{0xffffffff81000020, "ip_rcv_finish+0x20"},
		{0xffffffff81000010, "kfree_skb_reason+0x10"},
		{0xffffffff8dead000, "0xffffffff8dead000"},
	}
	for i, s := range seq {
		re := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_DROP), Location: s.addr}
		var ev event.Event
		if err := d.Decode(dropRecord(&re, nil), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Location != s.want || ev.LocationAddr != s.addr {
			t.Errorf("event %d: Location %q at %#x, want %q at %#x", i, ev.Location, ev.LocationAddr, s.want, s.addr)
		}
	}
	// Repeats of the location before cost no look-up.
	if got, want := syms.calls, 4; got != want {
		t.Errorf("%d look-ups, want %d", got, want)
	}
}

func TestDecodeWithoutNames(t *testing.T) {
	d := &Decoder{clock: clock{offset: testEpoch}}
	re := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_DROP), Location: 0xffffffff81000010, Reason: 77}
	var ev event.Event
	if err := d.Decode(dropRecord(&re, nil), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Reason != "" || ev.ReasonCode != 77 || ev.Location != "" || ev.LocationAddr != 0xffffffff81000010 {
		t.Errorf("without names: reason %q (%d), location %q (%#x); want the numbers only", ev.Reason, ev.ReasonCode, ev.Location, ev.LocationAddr)
	}
	if got, want := event.ReasonText(ev.Reason, ev.ReasonCode), "77"; got != want {
		t.Errorf("ReasonText = %q, want %q", got, want)
	}
}

func TestDecodeReasons(t *testing.T) {
	tests := []struct {
		kind     bpf.DropEventKind
		code     uint32
		want     string
		wantCode uint32
	}{
		{bpf.DropEventKindEVENT_DROP, 2, "NO_SOCKET", 2},
		{bpf.DropEventKindEVENT_DROP, 0x10003, "UNKNOWN(0x10003)", 0x10003}, // newer than the names: the number stays
		{bpf.DropEventKindEVENT_TCP_RETRANSMIT, 0, "", 0},                   // only drops have reasons
		{bpf.DropEventKindEVENT_TCP_RESET_SENT, 2, "", 2},
		{bpf.DropEventKindEVENT_TRACE, 6, "", 6},
	}
	for _, tt := range tests {
		d, _ := testDecoder()
		re := bpf.DropEvent{Kind: uint8(tt.kind), Reason: tt.code}
		var ev event.Event
		if err := d.Decode(dropRecord(&re, nil), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Reason != tt.want || ev.ReasonCode != tt.wantCode {
			t.Errorf("kind %d, code %#x: Reason %q (%#x), want %q (%#x)", tt.kind, tt.code, ev.Reason, ev.ReasonCode, tt.want, tt.wantCode)
		}
	}
}

func TestDecodeKinds(t *testing.T) {
	tests := []struct {
		kind uint8
		want event.Kind
	}{
		{uint8(bpf.DropEventKindEVENT_DROP), event.KindDrop},
		{uint8(bpf.DropEventKindEVENT_TRACE), event.KindTrace},
		{uint8(bpf.DropEventKindEVENT_CONSUME), event.KindConsume},
		{uint8(bpf.DropEventKindEVENT_TCP_RETRANSMIT), event.KindRetransmit},
		{uint8(bpf.DropEventKindEVENT_TCP_RETRANSMIT_SYNACK), event.KindRetransmitSynack},
		{uint8(bpf.DropEventKindEVENT_TCP_RESET_SENT), event.KindResetSent},
		{uint8(bpf.DropEventKindEVENT_TCP_RESET_RECEIVED), event.KindResetReceived},
		{0, "kind0"},
		{8, "kind8"},
		{255, "kind255"},
	}
	d, _ := testDecoder()
	for _, tt := range tests {
		re := bpf.DropEvent{Kind: tt.kind}
		var ev event.Event
		if err := d.Decode(dropRecord(&re, nil), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Kind != tt.want {
			t.Errorf("kind %d: got %q, want %q", tt.kind, ev.Kind, tt.want)
		}
	}
}

func TestDecodeSocket(t *testing.T) {
	tests := []struct {
		state, local uint8
		cookie       uint64
		wantState    string
		wantLocal    bool
	}{
		{0, 0, 0, "", false},
		{1, 1, 42, "ESTABLISHED", true},
		{2, 1, 43, "SYN_SENT", true},
		{10, 0, 44, "LISTEN", false},
		{12, 0, 45, "NEW_SYN_RECV", false},
		{99, 0, 46, "STATE99", false},
	}
	d, _ := testDecoder()
	for _, tt := range tests {
		re := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_TCP_RETRANSMIT), TcpState: tt.state, SkSrcLocal: tt.local, SockCookie: tt.cookie}
		var ev event.Event
		if err := d.Decode(dropRecord(&re, nil), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.TCPState != tt.wantState || ev.SockSrcLocal != tt.wantLocal || ev.SockCookie != tt.cookie {
			t.Errorf("state %d local %d cookie %d: got %q %v %d, want %q %v %d", tt.state, tt.local, tt.cookie,
				ev.TCPState, ev.SockSrcLocal, ev.SockCookie, tt.wantState, tt.wantLocal, tt.cookie)
		}
	}
}

func TestClockWall(t *testing.T) {
	tests := []struct {
		offset int64
		mono   uint64
		want   time.Time
	}{
		{0, 0, time.Unix(0, 0)},
		{testEpoch, 0, time.Unix(0, testEpoch)},
		{testEpoch, 3_600_000_000_001, time.Unix(3600, testEpoch+1)},
		{-5, 10, time.Unix(0, 5)},
	}
	for _, tt := range tests {
		if got := (clock{offset: tt.offset}).wall(tt.mono); !got.Equal(tt.want) {
			t.Errorf("clock{%d}.wall(%d) = %v, want %v", tt.offset, tt.mono, got, tt.want)
		}
	}
}

// TestNewClockFollowsMonotonic converts the monotonic clock's now, the
// clock of bpf_ktime_get_ns, and gets the wall clock's now back. A second
// covers the two clocks being read apart; a wrong offset is off by the
// machine's uptime.
func TestNewClockFollowsMonotonic(t *testing.T) {
	c := newClock()
	before := time.Now()
	got := c.wall(uint64(monotonicNow()))
	after := time.Now()
	if got.Before(before.Add(-time.Second)) || got.After(after.Add(time.Second)) {
		t.Errorf("wall(now) = %v, want between %v and %v", got, before, after)
	}
	if d := NewDecoder(nil, nil); d.clock.offset == 0 {
		t.Errorf("NewDecoder has no clock")
	}
}

func TestSwap16AndAddrBytes(t *testing.T) {
	if got, want := swap16(inMemory16([]byte{0x12, 0x34})), uint16(0x1234); got != want {
		t.Errorf("swap16 = %#x, want %#x", got, want)
	}
	w := inMemory32([]byte{192, 0, 2, 1})
	if got, want := addrBytes4(w), [4]byte{192, 0, 2, 1}; got != want {
		t.Errorf("addrBytes4 = %v, want %v", got, want)
	}
}
