package pcapfilter

import (
	"encoding/binary"
	"net/netip"
)

// testPacket is one synthetic frame; l3Only marks frames that cannot be
// written as raw IP (VLAN tags, ARP).
type testPacket struct {
	name   string
	frame  []byte // Ethernet frame
	l2Only bool
}

// raw returns the packet as seen from the network header.
func (p testPacket) raw() []byte { return p.frame[14:] }

var (
	macA = []byte{0x02, 0, 0, 0, 0, 0x0a}
	macB = []byte{0x33, 0x33, 0, 0, 0, 0x0b} // multicast bit set
)

func eth(etype uint16, payload []byte) []byte {
	b := append(append([]byte{}, macB...), macA...)
	b = binary.BigEndian.AppendUint16(b, etype)
	return append(b, payload...)
}

// vlanEth tags an Ethernet frame with tpid/id after the MAC addresses.
func vlanEth(tpid uint16, id uint16, frame []byte) []byte {
	b := append([]byte{}, frame[:12]...)
	b = binary.BigEndian.AppendUint16(b, tpid)
	b = binary.BigEndian.AppendUint16(b, id)
	return append(b, frame[12:]...)
}

type v4opts struct {
	ihl     int // header length in words; 0 means 5
	fragOff uint16
	mf      bool
	proto   uint8
}

func ipv4(src, dst string, o v4opts, payload []byte) []byte {
	ihl := max(o.ihl, 5)
	h := make([]byte, ihl*4)
	h[0] = 0x40 | byte(ihl)
	binary.BigEndian.PutUint16(h[2:], uint16(len(h)+len(payload)))
	binary.BigEndian.PutUint16(h[4:], 0x1234)
	frag := o.fragOff
	if o.mf {
		frag |= 0x2000
	}
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8], h[9] = 64, o.proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	for i := 20; i < len(h); i++ {
		h[i] = 1 // NOP options
	}
	return eth(etherTypeIPv4, append(h, payload...))
}

func ipv6(src, dst string, next uint8, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = next, 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return eth(etherTypeIPv6, append(h, payload...))
}

func ext6(next uint8, payload []byte) []byte {
	return append([]byte{next, 0, 1, 4, 0, 0, 0, 0}, payload...)
}

func frag6(next uint8, off uint16, more bool, payload []byte) []byte {
	v := off << 3
	if more {
		v |= 1
	}
	h := []byte{next, 0, byte(v >> 8), byte(v), 0, 0, 0x12, 0x34}
	return append(h, payload...)
}

const (
	flFIN = 0x01
	flSYN = 0x02
	flRST = 0x04
	flPSH = 0x08
	flACK = 0x10
	flECE = 0x40
	flCWR = 0x80
)

func tcpSeg(sport, dport uint16, flags byte, n int) []byte {
	h := make([]byte, 20, 20+n)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], 1000)
	h[12] = 5 << 4
	h[13] = flags
	binary.BigEndian.PutUint16(h[14:], 65535)
	return append(h, make([]byte, n)...)
}

func udpDgram(sport, dport uint16, n int) []byte {
	h := make([]byte, 8, 8+n)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], uint16(8+n))
	return append(h, make([]byte, n)...)
}

func icmpMsg(typ, code byte, n int) []byte {
	return append([]byte{typ, code, 0, 0, 0, 1, 0, 1}, make([]byte, n)...)
}

func sctpPkt(sport, dport uint16) []byte {
	h := make([]byte, 12)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	return h
}

func arpReq(spa, tpa string) []byte {
	b := []byte{0, 1, 8, 0, 6, 4, 0, 1}
	s, t := netip.MustParseAddr(spa).As4(), netip.MustParseAddr(tpa).As4()
	b = append(append(b, macA...), s[:]...)
	b = append(append(b, 0, 0, 0, 0, 0, 0), t[:]...)
	return eth(etherTypeARP, b)
}

// fragTail is a non-first IPv4 fragment whose bytes at the usual port
// offsets read 80, so a filter that forgets the fragment offset matches.
func fragTail() []byte {
	p := udpDgram(80, 80, 40)
	return ipv4("10.0.0.1", "10.0.0.2", v4opts{proto: protoUDP, fragOff: 185}, p)
}

func testPackets() []testPacket {
	tcp, udp := v4opts{proto: protoTCP}, v4opts{proto: protoUDP}
	return []testPacket{
		{name: "v4 tcp syn A>B:80", frame: ipv4("10.0.0.1", "10.0.0.2", tcp, tcpSeg(12345, 80, flSYN, 0))},
		{name: "v4 tcp synack B:80>A", frame: ipv4("10.0.0.2", "10.0.0.1", tcp, tcpSeg(80, 12345, flSYN|flACK, 0))},
		{name: "v4 tcp ack data", frame: ipv4("10.0.0.1", "10.0.0.2", tcp, tcpSeg(12345, 80, flACK|flPSH, 120))},
		{name: "v4 tcp ssh", frame: ipv4("192.168.1.5", "10.0.0.1", tcp, tcpSeg(22, 50000, flACK|flPSH, 40))},
		{name: "v4 tcp finack 443", frame: ipv4("10.0.0.1", "172.16.5.4", tcp, tcpSeg(8050, 443, flFIN|flACK, 0))},
		{name: "v4 tcp options ihl6", frame: ipv4("10.0.0.1", "10.0.0.2", v4opts{proto: protoTCP, ihl: 6}, tcpSeg(1000, 8100, flSYN, 0))},
		{name: "v4 tcp rst", frame: ipv4("10.1.2.3", "8.8.8.8", tcp, tcpSeg(8080, 1024, flRST, 0))},
		{name: "v4 udp dns", frame: ipv4("10.0.0.1", "10.0.0.2", udp, udpDgram(5353, 53, 30))},
		{name: "v4 udp 8000>9000", frame: ipv4("172.16.5.4", "192.168.1.5", udp, udpDgram(8000, 9000, 500))},
		{name: "v4 udp big", frame: ipv4("10.0.0.2", "10.0.0.1", udp, udpDgram(40000, 7000, 1400))},
		{name: "v4 icmp echo", frame: ipv4("10.0.0.1", "10.0.0.2", v4opts{proto: protoICMP}, icmpMsg(8, 0, 56))},
		{name: "v4 icmp echoreply", frame: ipv4("10.0.0.2", "10.0.0.1", v4opts{proto: protoICMP}, icmpMsg(0, 0, 56))},
		{name: "v4 icmp unreach", frame: ipv4("192.168.1.5", "10.0.0.1", v4opts{proto: protoICMP}, icmpMsg(3, 3, 28))},
		{name: "v4 udp first frag", frame: ipv4("10.0.0.1", "10.0.0.2", v4opts{proto: protoUDP, mf: true}, udpDgram(4000, 80, 64))},
		{name: "v4 udp later frag", frame: fragTail()},
		{name: "v4 sctp", frame: ipv4("10.0.0.1", "10.0.0.2", v4opts{proto: protoSCTP}, sctpPkt(3868, 80))},
		{name: "v4 igmp", frame: ipv4("10.0.0.1", "224.0.0.1", v4opts{proto: protoIGMP}, []byte{0x11, 0, 0, 0, 0, 0, 0, 0})},
		{name: "v6 tcp syn :80", frame: ipv6("2001:db8::1", "2001:db8::2", protoTCP, tcpSeg(40000, 80, flSYN, 0))},
		{name: "v6 tcp ack 443", frame: ipv6("2001:db8::2", "fe80::1", protoTCP, tcpSeg(443, 50000, flACK, 200))},
		{name: "v6 tcp ecn syn", frame: ipv6("2001:db8:1::5", "2001:db8::1", protoTCP, tcpSeg(8080, 22, flSYN|flECE|flCWR, 0))},
		{name: "v6 udp dns", frame: ipv6("2001:db8::1", "2001:db8:1::5", protoUDP, udpDgram(53, 5353, 60))},
		{name: "v6 icmp6 echo", frame: ipv6("2001:db8::1", "2001:db8::2", protoICMPv6, icmpMsg(128, 0, 56))},
		{name: "v6 icmp6 echoreply", frame: ipv6("2001:db8::2", "2001:db8::1", protoICMPv6, icmpMsg(129, 0, 56))},
		{name: "v6 icmp6 ns", frame: ipv6("fe80::1", "ff02::1:ff00:2", protoICMPv6, icmpMsg(135, 0, 16))},
		{name: "v6 hbh tcp :80", frame: ipv6("2001:db8::1", "2001:db8::2", 0, ext6(protoTCP, tcpSeg(40001, 80, flSYN, 0)))},
		{name: "v6 frag udp :53", frame: ipv6("2001:db8::1", "2001:db8::2", protoFrag6, frag6(protoUDP, 0, true, udpDgram(5000, 53, 40)))},
		{name: "v6 frag tcp tail", frame: ipv6("2001:db8::2", "2001:db8::1", protoFrag6, frag6(protoTCP, 100, false, make([]byte, 40)))},
		{name: "vlan100 v4 tcp :80", frame: vlanEth(0x8100, 100, ipv4("10.0.0.1", "10.0.0.2", tcp, tcpSeg(12346, 80, flSYN, 0))), l2Only: true},
		{name: "vlan200 v6 udp", frame: vlanEth(0x8100, 200, ipv6("2001:db8::1", "2001:db8::2", protoUDP, udpDgram(1111, 2222, 10))), l2Only: true},
		{name: "qinq 300/100 v4 udp", frame: vlanEth(0x88a8, 300, vlanEth(0x8100, 100, ipv4("10.0.0.2", "10.0.0.1", udp, udpDgram(53, 5353, 20)))), l2Only: true},
		{name: "arp who-has", frame: arpReq("10.0.0.1", "10.0.0.2"), l2Only: true},
		{name: "v4 tcp 10/8 to 8.8.8.8:8080", frame: ipv4("10.200.0.9", "8.8.8.8", tcp, tcpSeg(33000, 8080, flSYN|flACK, 10))},
	}
}
