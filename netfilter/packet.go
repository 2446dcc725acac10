package netfilter

import (
	"net/netip"
)

// Packet is what is known of a dropped packet's headers, as a rule sees
// them. A field not known makes every match that reads it undecided.
type Packet struct {
	Src, Dst     netip.Addr // valid, and of one family, or the packet is not evaluated
	Proto        uint8      // IP protocol (the transport header's, after IPv6 extension headers)
	ProtoKnown   bool
	Sport, Dport uint16 // for TCP, UDP, UDP-Lite, SCTP, DCCP
	// Iifname is the input device, known at prerouting, input and
	// forward; "" with IifKnown at output, where there is none.
	Iifname  string
	IifKnown bool
	Iif      uint32 // the input device's index, with Iifname
	Oifname  string
	OifKnown bool
	Mark     uint32
	// CtState is the conntrack state as nft's ct state bits (invalid 1,
	// established 2, related 4, new 8, untracked 64); 0 when not known.
	// CtStatus is its connection's status (IPS_* bits), with CtState.
	CtState  uint32
	CtStatus uint32
}

// ctStateNoConn are the states of a packet without a connection: ct
// expressions other than ct state do not match it.
const ctStateNoConn = 1 | 64

// beforeConntrack is the packet as a chain that runs before conntrack
// (priority raw and lower) sees it: with no conntrack state yet.
func (p *Packet) beforeConntrack() *Packet {
	if p.CtState == 0 {
		return p
	}
	v := *p
	v.CtState, v.CtStatus = 0, 0
	return &v
}

// IPv6 says whether the packet is an IPv6 one.
func (p *Packet) IPv6() bool { return p.Src.Is6() && !p.Src.Is4In6() }

// hasPorts says whether the transport header starts with two ports.
func (p *Packet) hasPorts() bool {
	switch p.Proto {
	case protoTCP, protoUDP, protoUDPLite, protoSCTP, protoDCCP:
		return p.ProtoKnown
	}
	return false
}

// IP protocol numbers.
const (
	protoICMP    = 1
	protoTCP     = 6
	protoUDP     = 17
	protoDCCP    = 33
	protoICMPv6  = 58
	protoSCTP    = 132
	protoUDPLite = 136
)

// header is bytes of a header with a mask of those that are known.
type header struct {
	b     []byte
	known []bool
}

func newHeader(n int) header { return header{b: make([]byte, n), known: make([]bool, n)} }

func (h header) set(off int, v []byte) {
	copy(h.b[off:], v)
	for i := range v {
		h.known[off+i] = true
	}
}

// read returns n bytes at off, or false when any of them is not known.
func (h header) read(off, n int) ([]byte, bool) {
	if off < 0 || n <= 0 || off+n > len(h.b) {
		return nil, false
	}
	for _, k := range h.known[off : off+n] {
		if !k {
			return nil, false
		}
	}
	return h.b[off : off+n], true
}

// networkHeader is the IPv4 or IPv6 header as far as the packet knows it.
func (p *Packet) networkHeader() header {
	if p.IPv6() {
		// The next header field (byte 6) is left unknown: Proto is the
		// transport protocol after any extension headers, not the first.
		h := newHeader(40)
		s, d := p.Src.As16(), p.Dst.As16()
		h.set(8, s[:])
		h.set(24, d[:])
		return h
	}
	h := newHeader(20)
	if p.ProtoKnown {
		h.set(9, []byte{p.Proto})
	}
	s, d := p.Src.Unmap().As4(), p.Dst.Unmap().As4()
	h.set(12, s[:])
	h.set(16, d[:])
	return h
}

func (p *Packet) transportHeader() header {
	h := newHeader(20)
	if p.hasPorts() {
		h.set(0, []byte{byte(p.Sport >> 8), byte(p.Sport), byte(p.Dport >> 8), byte(p.Dport)})
	}
	return h
}
