package tracer

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/droptrace/droptrace/bpf"
)

// This file builds what the kernel programs would send: packets as they
// are on the wire, and records filled from them the way bpf/skb.h fills
// struct event, byte for byte, in the layout of the generated structs.

// Addresses of the test packets: no byte is repeated, so a swapped or
// shifted word shows.
var (
	src4 = [4]byte{10, 1, 2, 3}
	dst4 = [4]byte{192, 0, 2, 200}
	src6 = [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34}
	dst6 = [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0, 0x0b}
)

// IP protocol numbers, as in bpf/skb.h.
const (
	protoHopOpts  = 0
	protoICMP     = 1
	protoTCP      = 6
	protoUDP      = 17
	protoRouting  = 43
	protoFragment = 44
	protoICMPv6   = 58
	protoNoNext   = 59
	protoDstOpts  = 60
	protoSCTP     = 132
	protoUDPLite  = 136
)

// ipv4 returns an IPv4 header with options opts (a multiple of 4 bytes)
// and the fragment field frag (flags and offset), followed by payload.
func ipv4(proto uint8, opts []byte, frag uint16, payload []byte) []byte {
	ihl := 5 + len(opts)/4
	total := ihl*4 + len(payload)
	b := []byte{byte(0x40 | ihl), 0, byte(total >> 8), byte(total), 0x12, 0x34, byte(frag >> 8), byte(frag), 64, proto, 0, 0}
	b = append(b, src4[:]...)
	b = append(b, dst4[:]...)
	b = append(b, opts...)
	return append(b, payload...)
}

// ipv6 returns an IPv6 header whose next header is next, then payload.
func ipv6(next uint8, payload []byte) []byte {
	b := []byte{0x60, 0, 0, 0, byte(len(payload) >> 8), byte(len(payload)), next, 64}
	b = append(b, src6[:]...)
	b = append(b, dst6[:]...)
	return append(b, payload...)
}

// ext6 returns an IPv6 extension header (hop-by-hop, routing or
// destination options) of (units+1)*8 bytes, then payload.
func ext6(next, units uint8, payload []byte) []byte {
	b := make([]byte, (int(units)+1)*8)
	b[0], b[1] = next, units
	for i := 2; i < len(b); i++ {
		b[i] = 0xee // not ports: a parser that stops early reads these
	}
	return append(b, payload...)
}

// frag6 returns an IPv6 fragment header for the fragment at offset
// (8-byte units), then payload.
func frag6(next uint8, offset uint16, more bool, payload []byte) []byte {
	off := offset << 3
	if more {
		off |= 1
	}
	b := []byte{next, 0, byte(off >> 8), byte(off), 0xde, 0xad, 0xbe, 0xef}
	return append(b, payload...)
}

// l4 returns a transport header of n bytes that starts with the ports.
func l4(sport, dport uint16, n int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint16(b, sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	return b
}

// eth returns an Ethernet header of type etherType, then payload.
func eth(etherType uint16, payload []byte) []byte {
	b := []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, byte(etherType >> 8), byte(etherType)}
	return append(b, payload...)
}

// inMemory returns the bytes of a network-order field as the host reads
// them into an integer: how the record's fields hold them.
func inMemory16(b []byte) uint16 { return binary.NativeEndian.Uint16(b) }
func inMemory32(b []byte) uint32 { return binary.NativeEndian.Uint32(b) }

// parseLikeBPF fills the tuple of re from the network header nh as
// parse_skb in bpf/skb.h does: addresses and ports are copied as they lay
// in the packet, with the same limits (first fragments only carry ports,
// at most four IPv6 extension headers).
func parseLikeBPF(re *bpf.DropEvent, nh []byte) {
	switch nh[0] >> 4 {
	case 4:
		parseIPv4LikeBPF(re, nh)
	case 6:
		parseIPv6LikeBPF(re, nh)
	}
}

func parseIPv4LikeBPF(re *bpf.DropEvent, nh []byte) {
	ihl := int(nh[0] & 0xf)
	if ihl < 5 {
		return
	}
	re.Family, re.L4proto = 4, nh[9]
	re.Saddr[0], re.Daddr[0] = inMemory32(nh[12:]), inMemory32(nh[16:])
	if binary.BigEndian.Uint16(nh[6:])&0x1fff != 0 {
		return
	}
	readPortsLikeBPF(re, nh[ihl*4:])
}

func parseIPv6LikeBPF(re *bpf.DropEvent, nh []byte) {
	re.Family, re.L4proto = 6, nh[6]
	for i := range 4 {
		re.Saddr[i], re.Daddr[i] = inMemory32(nh[8+4*i:]), inMemory32(nh[24+4*i:])
	}
	off := 40
	for range 4 {
		p := re.L4proto
		if p != protoHopOpts && p != protoRouting && p != protoDstOpts && p != protoFragment {
			break
		}
		x := nh[off:]
		re.L4proto = x[0]
		if p == protoFragment {
			if binary.BigEndian.Uint16(x[2:])&0xfff8 != 0 {
				return
			}
			off += 8
		} else {
			off += (int(x[1]) + 1) * 8
		}
	}
	readPortsLikeBPF(re, nh[off:])
}

func readPortsLikeBPF(re *bpf.DropEvent, l4 []byte) {
	switch re.L4proto {
	case protoTCP, protoUDP, protoSCTP, protoUDPLite:
		re.Sport, re.Dport = inMemory16(l4), inMemory16(l4[2:])
	}
}

// ifname returns a device name as the record holds it: the bytes of name,
// NUL-padded, truncated to 16 bytes without a NUL when longer.
func ifname(name string) (b [16]int8) {
	for i := 0; i < len(name) && i < len(b); i++ {
		b[i] = int8(name[i])
	}
	return b
}

// dropRecord returns the ring buffer record of re followed by pkt.
func dropRecord(re *bpf.DropEvent, pkt []byte) []byte {
	b := unsafe.Slice((*byte)(unsafe.Pointer(re)), unsafe.Sizeof(*re))
	return append(append([]byte(nil), b...), pkt...)
}

// pathRecord returns the ring buffer record of pe.
func pathRecord(pe *bpf.TracePathEvent) []byte {
	b := unsafe.Slice((*byte)(unsafe.Pointer(pe)), unsafe.Sizeof(*pe))
	return append([]byte(nil), b...)
}

// fakeSymbols names addresses from a table and counts the look-ups.
type fakeSymbols struct {
	names map[uint64]string
	calls int
}

func (s *fakeSymbols) Symbolize(addr uint64) string {
	s.calls++
	if name, ok := s.names[addr]; ok {
		return name
	}
	return fmt.Sprintf("0x%x", addr)
}

// fakeReasons names reason codes from a table, and others as the kernel
// package does.
type fakeReasons map[uint32]string

func (r fakeReasons) Name(code uint32) string {
	if name, ok := r[code]; ok {
		return name
	}
	return fmt.Sprintf("UNKNOWN(0x%x)", code)
}

// testEpoch is the wall-clock time of monotonic 0 in the tests' decoders.
const testEpoch = int64(1_700_000_000_000_000_000)

func testDecoder() (*Decoder, *fakeSymbols) {
	syms := &fakeSymbols{names: map[uint64]string{
		0xffffffff81000010: "kfree_skb_reason+0x10",
		0xffffffff81000020: "ip_rcv_finish+0x20",
		0xffffffffc0000400: "nft_do_chain+0x4f0 [nf_tables]",
	}}
	reasons := fakeReasons{0: "NOT_DROPPED_YET", 2: "NO_SOCKET", 6: "NETFILTER_DROP"}
	return &Decoder{Symbols: syms, Reasons: reasons, clock: clock{offset: testEpoch}}, syms
}
