package pcapfilter

import (
	"net/netip"

	"golang.org/x/net/bpf"
)

const (
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86dd
	etherTypeARP  = 0x0806
	etherTypeRARP = 0x8035
)

// vlanTPIDs are the ethertypes libpcap takes for a VLAN tag.
var vlanTPIDs = []uint32{0x8100, 0x88a8, 0x9100}

// generator emits classic BPF for a parsed expression: each node jumps
// to t when it holds and to f when it does not.
type generator struct {
	program
	link Link
}

func (g *generator) gen(n node, t, f string) error {
	switch n := n.(type) {
	case andNode:
		m := g.newLabel()
		if err := g.gen(n.l, m, f); err != nil {
			return err
		}
		g.mark(m)
		return g.gen(n.r, t, f)
	case orNode:
		m := g.newLabel()
		if err := g.gen(n.l, t, m); err != nil {
			return err
		}
		g.mark(m)
		return g.gen(n.r, t, f)
	case notNode:
		return g.gen(n.x, f, t)
	case relNode:
		return g.relation(n, t, f)
	}
	g.primitive(n, t, f)
	return nil
}

func (g *generator) primitive(n node, t, f string) {
	switch n := n.(type) {
	case l3Node:
		g.l3(n.proto, n.nh, t, f)
	case ipProtoNode:
		g.ipProto(n, t, f)
	case firstFragNode:
		g.emit(bpf.LoadAbsolute{Off: uint32(n.nh + 6), Size: 2})
		g.jcond(bpf.JumpBitsSet, 0x1fff, f, t)
	case addrNode:
		g.addr(n, t, f)
	case portNode:
		g.port(n, t, f)
	case vlanNode:
		g.vlan(n, t, f)
	}
}

// l3 tests the network protocol: the ethertype on Ethernet, the version
// nibble on raw IP.
func (g *generator) l3(proto l3Proto, nh int, t, f string) {
	if g.link == RawIP {
		g.emit(bpf.LoadAbsolute{Off: uint32(nh), Size: 1}, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
		g.jcond(bpf.JumpEqual, map[l3Proto]uint32{l3IPv4: 0x40, l3IPv6: 0x60}[proto], t, f)
		return
	}
	types := map[l3Proto]uint32{l3IPv4: etherTypeIPv4, l3IPv6: etherTypeIPv6, l3ARP: etherTypeARP, l3RARP: etherTypeRARP}
	g.emit(bpf.LoadAbsolute{Off: uint32(nh - 2), Size: 2})
	g.jcond(bpf.JumpEqual, types[proto], t, f)
}

// ipProto tests the IPv4 protocol field and/or the IPv6 next header; for
// IPv6 it also looks behind one fragment header, as libpcap does.
func (g *generator) ipProto(n ipProtoNode, t, f string) {
	if n.fam == famAny {
		m := g.newLabel()
		g.ipProto(ipProtoNode{fam: famV4, proto: n.proto, nh: n.nh}, t, m)
		g.mark(m)
		g.ipProto(ipProtoNode{fam: famV6, proto: n.proto, nh: n.nh}, t, f)
		return
	}
	m := g.newLabel()
	if n.fam == famV4 {
		g.l3(l3IPv4, n.nh, m, f)
		g.mark(m)
		g.emit(bpf.LoadAbsolute{Off: uint32(n.nh + 9), Size: 1})
		g.jcond(bpf.JumpEqual, uint32(n.proto), t, f)
		return
	}
	g.l3(l3IPv6, n.nh, m, f)
	g.mark(m)
	g.emit(bpf.LoadAbsolute{Off: uint32(n.nh + 6), Size: 1})
	if n.direct {
		g.jcond(bpf.JumpEqual, uint32(n.proto), t, f)
		return
	}
	frag, behind := g.newLabel(), g.newLabel()
	g.jcond(bpf.JumpEqual, uint32(n.proto), t, frag)
	g.mark(frag)
	g.jcond(bpf.JumpEqual, protoFrag6, behind, f)
	g.mark(behind)
	g.emit(bpf.LoadAbsolute{Off: uint32(n.nh + 40), Size: 1})
	g.jcond(bpf.JumpEqual, uint32(n.proto), t, f)
}

// addrAlt is one place an address can be: a protocol and the offsets of
// its source and destination fields.
type addrAlt struct {
	proto    l3Proto
	src, dst int
}

func (g *generator) addr(n addrNode, t, f string) {
	var alts []addrAlt
	for _, pr := range n.l3 {
		switch pr {
		case l3IPv6:
			alts = append(alts, addrAlt{pr, n.nh + 8, n.nh + 24})
		case l3IPv4:
			alts = append(alts, addrAlt{pr, n.nh + 12, n.nh + 16})
		default:
			alts = append(alts, addrAlt{pr, n.nh + 14, n.nh + 24})
		}
	}
	for i, a := range alts {
		next := f
		if i < len(alts)-1 {
			next = g.newLabel()
		}
		m := g.newLabel()
		g.l3(a.proto, n.nh, m, next)
		g.mark(m)
		g.direction(n.dir, a.src, a.dst, t, next, func(off int, t, f string) { g.matchPrefix(n.prefix, off, t, f) })
		if next != f {
			g.mark(next)
		}
	}
}

// direction combines a test of the source and of the destination field.
func (g *generator) direction(d direction, src, dst int, t, f string, match func(off int, t, f string)) {
	switch d {
	case dirSrc:
		match(src, t, f)
	case dirDst:
		match(dst, t, f)
	case dirSrcOrDst:
		m := g.newLabel()
		match(src, t, m)
		g.mark(m)
		match(dst, t, f)
	case dirSrcAndDst:
		m := g.newLabel()
		match(src, m, f)
		g.mark(m)
		match(dst, t, f)
	}
}

// matchPrefix compares the address at off, one 32-bit word at a time,
// skipping words the prefix does not cover.
func (g *generator) matchPrefix(pre netip.Prefix, off int, t, f string) {
	raw := pre.Addr().AsSlice()
	bits := pre.Bits()
	var words []int
	for w := 0; w*32 < len(raw)*8; w++ {
		if bits > w*32 || len(raw) == 4 {
			words = append(words, w)
		}
	}
	if len(words) == 0 {
		g.ja(t)
		return
	}
	for i, w := range words {
		mask := wordMask(bits - w*32)
		val := uint32(raw[4*w])<<24 | uint32(raw[4*w+1])<<16 | uint32(raw[4*w+2])<<8 | uint32(raw[4*w+3])
		g.emit(bpf.LoadAbsolute{Off: uint32(off + 4*w), Size: 4})
		if mask != 0xffffffff {
			g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
		}
		next := t
		if i < len(words)-1 {
			next = g.newLabel()
		}
		g.jcond(bpf.JumpEqual, val&mask, next, f)
		if next != t {
			g.mark(next)
		}
	}
}

func wordMask(bits int) uint32 {
	switch {
	case bits >= 32:
		return 0xffffffff
	case bits <= 0:
		return 0
	}
	return ^uint32(0) << (32 - bits)
}

// port tests IPv4 first (transport header after the IPv4 header, first
// fragment only), then IPv6 (transport header right after the fixed
// header, as libpcap assumes).
func (g *generator) port(n portNode, t, f string) {
	v6 := g.newLabel()
	g.portProtos(l3IPv4, n, v6)
	first := g.newLabel()
	g.emit(bpf.LoadAbsolute{Off: uint32(n.nh + 6), Size: 2})
	g.jcond(bpf.JumpBitsSet, 0x1fff, v6, first)
	g.mark(first)
	g.emit(bpf.LoadMemShift{Off: uint32(n.nh)})
	g.direction(n.dir, 0, 2, t, v6, func(off int, t, f string) {
		g.emit(bpf.LoadIndirect{Off: uint32(n.nh + off), Size: 2})
		g.portMatch(n, t, f)
	})
	g.mark(v6)
	g.portProtos(l3IPv6, n, f)
	g.direction(n.dir, 40, 42, t, f, func(off int, t, f string) {
		g.emit(bpf.LoadAbsolute{Off: uint32(n.nh + off), Size: 2})
		g.portMatch(n, t, f)
	})
}

// portProtos falls through when the packet is of the family and carries
// one of the port's protocols, else jumps to f.
func (g *generator) portProtos(proto l3Proto, n portNode, f string) {
	m, ok := g.newLabel(), g.newLabel()
	g.l3(proto, n.nh, m, f)
	g.mark(m)
	off := map[l3Proto]int{l3IPv4: 9, l3IPv6: 6}[proto]
	g.emit(bpf.LoadAbsolute{Off: uint32(n.nh + off), Size: 1})
	for i, pr := range n.protos {
		next := f
		if i < len(n.protos)-1 {
			next = g.newLabel()
		}
		g.jcond(bpf.JumpEqual, uint32(pr), ok, next)
		if next != f {
			g.mark(next)
		}
	}
	g.mark(ok)
}

func (g *generator) portMatch(n portNode, t, f string) {
	if n.lo == n.hi {
		g.jcond(bpf.JumpEqual, uint32(n.lo), t, f)
		return
	}
	m := g.newLabel()
	g.jcond(bpf.JumpGreaterOrEqual, uint32(n.lo), m, f)
	g.mark(m)
	g.jcond(bpf.JumpGreaterThan, uint32(n.hi), f, t)
}

func (g *generator) vlan(n vlanNode, t, f string) {
	tagged := g.newLabel()
	g.emit(bpf.LoadAbsolute{Off: uint32(n.typeO), Size: 2})
	for i, tpid := range vlanTPIDs {
		next := f
		if i < len(vlanTPIDs)-1 {
			next = g.newLabel()
		}
		g.jcond(bpf.JumpEqual, tpid, tagged, next)
		if next != f {
			g.mark(next)
		}
	}
	g.mark(tagged)
	if n.id < 0 {
		g.ja(t)
		return
	}
	g.emit(bpf.LoadAbsolute{Off: uint32(n.typeO + 2), Size: 2}, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xfff})
	g.jcond(bpf.JumpEqual, uint32(n.id), t, f)
}
