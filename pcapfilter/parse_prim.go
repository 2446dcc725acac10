package pcapfilter

import (
	"net/netip"
	"strconv"
	"strings"
)

var protoQualifiers = map[string]bool{
	"ip": true, "ip6": true, "arp": true, "rarp": true,
	"tcp": true, "udp": true, "sctp": true, "icmp": true, "icmp6": true, "igmp": true,
}

// parsePrimitive reads "[proto] [dir] [kind] id", "proto N", "vlan [N]",
// "less N", "greater N" or a bare id that inherits the last qualifiers.
func (p *parser) parsePrimitive() (node, *Error) {
	t := p.peek()
	switch t.text {
	case "vlan":
		return p.parseVlan()
	case "less", "greater":
		return p.parseLength()
	}
	var q qualifiers
	if protoQualifiers[t.text] {
		q.proto, q.protoPos = p.next().text, t.pos
	}
	if p.is(p.peek(), "proto") {
		return p.parseProto(q)
	}
	dirSet, err := p.parseDirection(&q)
	if err != nil {
		return nil, err
	}
	if k := p.peek(); p.is(k, "host", "net", "port", "portrange") {
		q.kind = p.next().text
	} else if q.proto != "" && !dirSet {
		return p.abbrev(q)
	}
	return p.parseID(q, dirSet)
}

func (p *parser) parseDirection(q *qualifiers) (bool, *Error) {
	t := p.peek()
	switch {
	case p.is(t, "src", "dst") && p.is(p.peekAt(1), "or", "and") && p.is(p.peekAt(2), "dst", "src"):
		if t.text == p.peekAt(2).text {
			return false, p.errorf(p.peekAt(2), "expected %q", map[string]string{"src": "dst", "dst": "src"}[t.text])
		}
		q.dir = dirSrcOrDst
		if p.peekAt(1).text == "and" {
			q.dir = dirSrcAndDst
		}
		p.i += 3
		return true, nil
	case p.is(t, "src"):
		q.dir = dirSrc
	case p.is(t, "dst"):
		q.dir = dirDst
	default:
		return false, nil
	}
	p.next()
	return true, nil
}

// parseID reads the address or port after the qualifiers; with none at
// all it inherits those of the previous primitive, as in "port 80 or 443".
func (p *parser) parseID(q qualifiers, dirSet bool) (node, *Error) {
	t := p.peek()
	if t.kind != tokWord {
		return nil, p.errorf(t, "expected an address or a port")
	}
	if msg, ok := unsupported[t.text]; ok {
		return nil, p.errorf(t, "%s", msg)
	}
	if q.proto == "" && q.kind == "" && !dirSet {
		if p.last == nil {
			return nil, p.errorf(t, "expected host, net, port or another qualifier before %q", t.text)
		}
		q = *p.last
	}
	if q.kind == "" {
		q.kind = "host"
	}
	p.next()
	var n node
	var err *Error
	switch q.kind {
	case "host", "net":
		n, err = p.addr(q, t)
	default:
		n, err = p.port(q, t)
	}
	if err == nil {
		p.last = &q
	}
	return n, err
}

// abbrev is a protocol on its own: "ip", "tcp", "icmp6", "arp".
func (p *parser) abbrev(q qualifiers) (node, *Error) {
	switch q.proto {
	case "ip":
		return l3Node{l3IPv4, p.nh}, nil
	case "ip6":
		return l3Node{l3IPv6, p.nh}, nil
	case "arp", "rarp":
		return p.arpNode(q)
	}
	a := abbrevs[q.proto]
	return ipProtoNode{fam: a.fam, proto: a.proto, nh: p.nh}, nil
}

func (p *parser) arpNode(q qualifiers) (node, *Error) {
	if p.link != Ethernet {
		return nil, errorAt(p.expr, q.protoPos, "%s needs the link-layer header, which raw IP data lacks", q.proto)
	}
	if q.proto == "arp" {
		return l3Node{l3ARP, p.nh}, nil
	}
	return l3Node{l3RARP, p.nh}, nil
}

// parseProto reads "ip proto N", "ip6 proto N" or "proto N"; N may be a
// name, with or without tcpdump's backslash.
func (p *parser) parseProto(q qualifiers) (node, *Error) {
	p.next()
	t := p.next()
	name := strings.TrimPrefix(t.text, "\\")
	v, ok := parseNumber(name)
	if n, named := ipProtoNames[name]; named {
		v, ok = uint32(n), true
	}
	if t.kind != tokWord || !ok || v > 255 {
		return nil, p.errorf(t, "expected an IP protocol number or name")
	}
	fam := map[string]family{"": famAny, "ip": famV4, "ip6": famV6}
	f, known := fam[q.proto]
	if !known {
		return nil, errorAt(p.expr, q.protoPos, "%q cannot qualify proto", q.proto)
	}
	return ipProtoNode{fam: f, proto: uint8(v), nh: p.nh}, nil
}

func (p *parser) parseVlan() (node, *Error) {
	t := p.next()
	if p.link != Ethernet {
		return nil, p.errorf(t, "vlan needs the link-layer header, which raw IP data lacks")
	}
	n := vlanNode{id: -1, typeO: p.nh - 2}
	if id := p.peek(); id.kind == tokWord {
		if v, ok := parseNumber(id.text); ok {
			if v > 4095 {
				return nil, p.errorf(id, "VLAN ID %d is out of range 0-4095", v)
			}
			n.id = int(v)
			p.next()
		}
	}
	p.nh += 4
	return n, nil
}

func (p *parser) parseLength() (node, *Error) {
	kw := p.next()
	t := p.next()
	v, ok := parseNumber(t.text)
	if t.kind != tokWord || !ok {
		return nil, p.errorf(t, "expected a length after %q", kw.text)
	}
	if kw.text == "less" {
		return relNode{"<=", lenArith{}, numArith{v}}, nil
	}
	return relNode{">=", lenArith{}, numArith{v}}, nil
}

func (p *parser) addr(q qualifiers, t token) (node, *Error) {
	prefix, err := p.parsePrefix(q, t)
	if err != nil {
		return nil, err
	}
	v6 := prefix.Addr().Is6()
	n := addrNode{dir: q.dir, prefix: prefix, nh: p.nh}
	switch q.proto {
	case "":
		n.l3 = defaultL3(v6, p.link)
	case "ip", "ip6":
		if v6 != (q.proto == "ip6") {
			return nil, p.errorf(t, "%s is not an %s address", t.text, map[bool]string{true: "IPv6", false: "IPv4"}[q.proto == "ip6"])
		}
		n.l3 = defaultL3(v6, RawIP)
	case "arp", "rarp":
		a, err := p.arpNode(q)
		if err != nil {
			return nil, err
		}
		if v6 {
			return nil, p.errorf(t, "%s is not an IPv4 address", t.text)
		}
		n.l3 = []l3Proto{a.(l3Node).proto}
	default:
		return nil, errorAt(p.expr, q.protoPos, "%q cannot qualify %s", q.proto, q.kind)
	}
	return n, nil
}

// defaultL3 is where an unqualified address is looked for: IPv6, or
// IPv4 and, with a link-layer header, ARP and RARP.
func defaultL3(v6 bool, link Link) []l3Proto {
	switch {
	case v6:
		return []l3Proto{l3IPv6}
	case link == Ethernet:
		return []l3Proto{l3IPv4, l3ARP, l3RARP}
	}
	return []l3Proto{l3IPv4}
}

// parsePrefix reads a host address, or a network as address/length,
// "address mask M" or a full address; host names are refused because
// resolving them would need DNS.
func (p *parser) parsePrefix(q qualifiers, t token) (netip.Prefix, *Error) {
	if q.kind == "host" {
		a, err := netip.ParseAddr(t.text)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, p.badAddr(t)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	if strings.Contains(t.text, "/") {
		pre, err := netip.ParsePrefix(t.text)
		if err != nil {
			return netip.Prefix{}, p.badAddr(t)
		}
		return p.checkNet(pre, t)
	}
	a, err := netip.ParseAddr(t.text)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, p.badAddr(t)
	}
	if !p.is(p.peek(), "mask") {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p.next()
	return p.parseMask(a, t)
}

func (p *parser) parseMask(a netip.Addr, t token) (netip.Prefix, *Error) {
	mt := p.next()
	m, err := netip.ParseAddr(mt.text)
	if err != nil || !a.Is4() || !m.Is4() {
		return netip.Prefix{}, p.errorf(mt, "expected an IPv4 netmask")
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := 0
	for ones < 32 && v&(1<<(31-ones)) != 0 {
		ones++
	}
	if ones < 32 && v<<ones != 0 {
		return netip.Prefix{}, p.errorf(mt, "netmask %s is not contiguous", mt.text)
	}
	return p.checkNet(netip.PrefixFrom(a, ones), t)
}

func (p *parser) checkNet(pre netip.Prefix, t token) (netip.Prefix, *Error) {
	if pre.Masked() != pre {
		return netip.Prefix{}, p.errorf(t, "%s has bits set beyond the prefix length", t.text)
	}
	return pre, nil
}

func (p *parser) badAddr(t token) *Error {
	if strings.ContainsAny(t.text, ":.") && !strings.ContainsAny(t.text, "%") {
		return p.errorf(t, "%q is not an IP address", t.text)
	}
	return p.errorf(t, "%q is not an IP address (host names are not resolved)", t.text)
}

func (p *parser) port(q qualifiers, t token) (node, *Error) {
	n := portNode{dir: q.dir, nh: p.nh}
	switch q.proto {
	case "":
		n.protos = []uint8{protoSCTP, protoTCP, protoUDP}
	case "tcp", "udp", "sctp":
		n.protos = []uint8{abbrevs[q.proto].proto}
	default:
		return nil, errorAt(p.expr, q.protoPos, "%q cannot qualify %s", q.proto, q.kind)
	}
	if q.kind == "portrange" {
		lo, hi, err := p.parseRange(t)
		n.lo, n.hi = lo, hi
		return n, err
	}
	if v, err := strconv.ParseUint(t.text, 10, 16); err == nil {
		n.lo, n.hi = uint16(v), uint16(v)
		return n, nil
	}
	return p.servicePort(n, q, t)
}

// servicePort narrows a named port to the protocols the name is defined
// for, and refuses a qualifier it is not defined for, as libpcap does.
func (p *parser) servicePort(n portNode, q qualifiers, t token) (node, *Error) {
	s, ok := services[t.text]
	if !ok {
		return nil, p.errorf(t, "%q is not a port number or a known service", t.text)
	}
	n.lo, n.hi = s.port, s.port
	switch {
	case q.proto == "tcp" && !s.tcp, q.proto == "udp" && !s.udp, q.proto == "sctp" && !(s.tcp && s.udp):
		return nil, p.errorf(t, "port %q is not defined for %s", t.text, q.proto)
	case q.proto != "":
	case !s.udp:
		n.protos = []uint8{protoTCP}
	case !s.tcp:
		n.protos = []uint8{protoUDP}
	}
	return n, nil
}

func (p *parser) parseRange(t token) (uint16, uint16, *Error) {
	a, b, found := strings.Cut(t.text, "-")
	lo, errLo := strconv.ParseUint(a, 10, 16)
	hi, errHi := strconv.ParseUint(b, 10, 16)
	if !found || errLo != nil || errHi != nil {
		return 0, 0, p.errorf(t, "%q is not a port range like 8000-8100", t.text)
	}
	return uint16(min(lo, hi)), uint16(max(lo, hi)), nil
}
