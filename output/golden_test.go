package output

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// checkGolden compares got with testdata/name, or rewrites the file when
// the test runs with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("updating golden file: %v", err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// testEvents covers each shape of tuple and reason the writers format.
// Times are built in loc so that golden files do not depend on the
// machine's time zone.
func testEvents(loc *time.Location) []*event.Event {
	at := func(usec int) time.Time {
		return time.Date(2025, time.March, 4, 15, 4, 5, 123456789+usec*1000, loc)
	}
	return []*event.Event{
		{ // IPv4 TCP, dropped by nftables
			Time: at(0), Kind: "drop", Reason: "NETFILTER_DROP", ReasonCode: 6,
			Location: "nft_do_chain+0x4f0 [nf_tables]", Netns: 4026531840,
			Ifindex: 7, Ifname: "veth0", Mark: 0x10, EtherType: 0x0800, Proto: "tcp",
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("192.168.100.200"),
			Sport: 43210, Dport: 443, TCPFlags: 0x12, Len: 60, CPU: 3, Skb: 0xffff888100a2b300,
		},
		{ // IPv6 UDP, wider than the IPv4 columns
			Time: at(1), Kind: "drop", Reason: "UDP_CSUM", ReasonCode: 10,
			Location: "__udp6_lib_rcv+0x7a", Netns: 4026532001,
			Ifindex: 2, Ifname: "eth0", EtherType: 0x86dd, Proto: "udp",
			Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8:ffff::53"),
			Sport: 5353, Dport: 53, Len: 1280, CPU: 0, Skb: 0xffff888100a2c400,
		},
		{ // ICMP has no ports
			Time: at(2), Kind: "drop", Reason: "NO_SOCKET", ReasonCode: 3,
			Location: "icmp_rcv+0x1c3", Netns: 4026531840,
			Ifindex: 1, Ifname: "lo", EtherType: 0x0800, Proto: "icmp",
			Src: netip.MustParseAddr("127.0.0.1"), Dst: netip.MustParseAddr("127.0.0.2"),
			Len: 84, CPU: 1, Skb: 0xffff888100a2d500,
		},
		{ // no IP header, unknown netns and interface, kernel without reasons
			Time: at(3), Kind: "drop", Location: "arp_rcv+0x20",
			EtherType: 0x0806, Len: 42, CPU: 2, Skb: 0xffff888100a2e600,
		},
		{ // an unnamed reason, a protocol known by number, an IFNAMSIZ-long name
			Time: at(4), Kind: "drop", ReasonCode: 999, Location: "sctp_rcv+0x11",
			Netns: 4026531840, Ifindex: 3, Ifname: "veth1a2b3c4d5e6", EtherType: 0x0800, Proto: "132",
			Src: netip.MustParseAddr("10.1.1.1"), Dst: netip.MustParseAddr("10.1.1.2"),
			Sport: 9, Dport: 2905, Len: 100, CPU: 4, Skb: 0xffff888100a2f700,
		},
		{ // not a drop: the kind stands in for the missing reason
			Time: at(5), Kind: "retransmit", Location: "tcp_retransmit_skb+0x15",
			Netns: 4026531840, Ifindex: 7, Ifname: "veth0", EtherType: 0x0800, Proto: "tcp",
			Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"),
			Sport: 443, Dport: 43210, Len: 1500, CPU: 5, Skb: 0xffff888100a30800,
			TCPState: "ESTABLISHED", SockCookie: 4097, SockSrcLocal: true,
			TCPInfo: &event.TCPInfo{
				State: "ESTABLISHED", RTT: 1200, RTTVar: 600, RTO: 204000, Retransmits: 3,
				TotalRetrans: 7, Lost: 2, Sacked: 1, Unacked: 10, SndCwnd: 10,
				SndSsthresh: 7, RcvQueue: 0, SendQueue: 14480, DeliveryRate: 1250000,
				AtEvent: true, LookedUp: true,
			},
		},
		{ // a reset received: read at the event, gone by the look-up
			Time: at(6), Kind: "reset_received", Netns: 4026532001, Proto: "tcp",
			Src: netip.MustParseAddr("fd00::1"), Dst: netip.MustParseAddr("fd00::2"),
			Sport: 40000, Dport: 7001, CPU: 1, TCPState: "SYN_SENT", SockCookie: 8193,
			SockSrcLocal: true, TCPInfo: &event.TCPInfo{
				Gone: true, State: "SYN_SENT", RTO: 1000000, Unacked: 1, SndCwnd: 10,
				SndSsthresh: 0x7fffffff, AtEvent: true, LookedUp: true,
			},
		},
	}
}
