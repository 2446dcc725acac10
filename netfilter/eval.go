package netfilter

import (
	"bytes"
	"encoding/binary"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// tri is the answer to "does this rule match the packet": no, yes, or
// maybe (it reads something the packet does not tell).
type tri int8

const (
	no tri = iota
	yes
	maybe
)

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

func (t tri) not() tri {
	switch t {
	case yes:
		return no
	case no:
		return yes
	}
	return maybe
}

// reg is a register's value; nil when not known.
type reg []byte

// evaluator runs one rule's match expressions on a packet.
type evaluator struct {
	pkt   *Packet
	table *Table
	regs  map[uint32]reg
	net   header
	th    header
	// notInvalid says the packet's conntrack state, unknown, is not
	// invalid; notInvalidRegs are the registers holding that state.
	notInvalid     bool
	notInvalidRegs map[uint32]bool
}

func newEvaluator(pkt *Packet, t *Table) *evaluator {
	return &evaluator{pkt: pkt, table: t, regs: map[uint32]reg{}, net: pkt.networkHeader(), th: pkt.transportHeader(), notInvalidRegs: map[uint32]bool{}}
}

// matches says whether the rule's matches hold for the packet, stopping
// at its first statement that decides (verdict, reject, xt target).
func (ev *evaluator) matches(r *Rule) tri {
	clear(ev.regs)
	clear(ev.notInvalidRegs)
	result := yes
	for _, e := range r.Exprs {
		if isTerminal(e) {
			break
		}
		switch ev.step(e) {
		case no:
			return no
		case maybe:
			result = maybe
		}
	}
	return result
}

// step runs one expression: a load sets a register, a comparison says
// whether the rule goes on.
func (ev *evaluator) step(e expr.Any) tri {
	switch e := e.(type) {
	case *expr.Counter, *expr.Log:
		return yes
	case *expr.Payload:
		return ev.payload(e)
	case *expr.Meta:
		return ev.meta(e)
	case *expr.Ct:
		return ev.ct(e)
	case *expr.Bitwise:
		return ev.bitwise(e)
	case *expr.Cmp:
		return ev.cmp(e)
	case *expr.Range:
		return ev.rangeCmp(e)
	case *expr.Lookup:
		return ev.lookup(e)
	case *expr.Match:
		return ev.xtMatch(e)
	}
	return maybe // an expression not evaluated here
}

func (ev *evaluator) payload(e *expr.Payload) tri {
	if e.OperationType != expr.PayloadLoad {
		return maybe
	}
	ev.notInvalidRegs[e.DestRegister] = false
	var h header
	switch e.Base {
	case expr.PayloadBaseNetworkHeader:
		h = ev.net
	case expr.PayloadBaseTransportHeader:
		h = ev.th
	default:
		ev.regs[e.DestRegister] = nil
		return yes
	}
	v, ok := h.read(int(e.Offset), int(e.Len))
	if !ok {
		v = nil
	}
	ev.regs[e.DestRegister] = v
	return yes
}

func (ev *evaluator) meta(e *expr.Meta) tri {
	if e.SourceRegister {
		return yes // a meta set statement does not decide
	}
	ev.regs[e.Register] = ev.metaValue(e.Key)
	ev.notInvalidRegs[e.Register] = false
	return yes
}

func (ev *evaluator) metaValue(k expr.MetaKey) reg {
	p := ev.pkt
	switch k {
	case expr.MetaKeyL4PROTO:
		if p.ProtoKnown {
			return reg{p.Proto}
		}
	case expr.MetaKeyNFPROTO:
		if p.IPv6() {
			return reg{byte(nftables.TableFamilyIPv6)}
		}
		return reg{byte(nftables.TableFamilyIPv4)}
	case expr.MetaKeyPROTOCOL:
		if p.IPv6() {
			return reg{0x86, 0xdd}
		}
		return reg{0x08, 0x00}
	case expr.MetaKeyIIFNAME:
		if p.IifKnown {
			return ifname(p.Iifname)
		}
	case expr.MetaKeyOIFNAME:
		if p.OifKnown {
			return ifname(p.Oifname)
		}
	case expr.MetaKeyIIF:
		if p.IifKnown && (p.Iif != 0 || p.Iifname == "") {
			return binary.NativeEndian.AppendUint32(nil, p.Iif)
		}
	case expr.MetaKeyMARK:
		return binary.NativeEndian.AppendUint32(nil, p.Mark)
	}
	return nil
}

// ifname is a device name as nft loads it: IFNAMSIZ bytes, NUL padded.
func ifname(s string) reg {
	b := make(reg, 16)
	copy(b, s)
	return b
}

func (ev *evaluator) ct(e *expr.Ct) tri {
	if e.SourceRegister {
		return yes
	}
	var v reg
	switch {
	case ev.pkt.CtState == 0:
		// not known: the register stays unknown
	case e.Key == expr.CtKeySTATE:
		v = binary.NativeEndian.AppendUint32(nil, ev.pkt.CtState)
	case ev.pkt.CtState&ctStateNoConn != 0:
		return no // no connection: the expression breaks the rule
	case e.Key == expr.CtKeySTATUS:
		v = binary.NativeEndian.AppendUint32(nil, ev.pkt.CtStatus)
	}
	ev.regs[e.Register] = v
	ev.notInvalidRegs[e.Register] = e.Key == expr.CtKeySTATE && ev.notInvalid
	return yes
}

func (ev *evaluator) bitwise(e *expr.Bitwise) tri {
	src := ev.regs[e.SourceRegister]
	if src == nil && ev.notInvalidRegs[e.SourceRegister] && isInvalidMask(e) {
		ev.regs[e.DestRegister] = make(reg, 4) // the invalid bit, known to be 0
		return yes
	}
	ev.notInvalidRegs[e.DestRegister] = false
	if src == nil || len(src) < int(e.Len) || len(e.Mask) < int(e.Len) || len(e.Xor) < int(e.Len) {
		ev.regs[e.DestRegister] = nil
		return yes
	}
	out := make(reg, e.Len)
	for i := range out {
		out[i] = src[i]&e.Mask[i] ^ e.Xor[i]
	}
	ev.regs[e.DestRegister] = out
	return yes
}

// isInvalidMask says whether the bitwise keeps only ct state's invalid bit.
func isInvalidMask(e *expr.Bitwise) bool {
	return e.Len == 4 && len(e.Mask) == 4 && len(e.Xor) == 4 &&
		binary.NativeEndian.Uint32(e.Mask) == expr.CtStateBitINVALID && binary.NativeEndian.Uint32(e.Xor) == 0
}

func (ev *evaluator) cmp(e *expr.Cmp) tri {
	v := ev.regs[e.Register]
	if v == nil || len(v) < len(e.Data) {
		return maybe
	}
	c := bytes.Compare(v[:len(e.Data)], e.Data)
	switch e.Op {
	case expr.CmpOpEq:
		return triOf(c == 0)
	case expr.CmpOpNeq:
		return triOf(c != 0)
	case expr.CmpOpLt:
		return triOf(c < 0)
	case expr.CmpOpLte:
		return triOf(c <= 0)
	case expr.CmpOpGt:
		return triOf(c > 0)
	case expr.CmpOpGte:
		return triOf(c >= 0)
	}
	return maybe
}

func (ev *evaluator) rangeCmp(e *expr.Range) tri {
	v := ev.regs[e.Register]
	n := len(e.FromData)
	if v == nil || len(v) < n || len(e.ToData) != n {
		return maybe
	}
	in := bytes.Compare(v[:n], e.FromData) >= 0 && bytes.Compare(v[:n], e.ToData) <= 0
	if e.Op == expr.CmpOpNeq {
		in = !in
	}
	return triOf(in)
}

func (ev *evaluator) lookup(e *expr.Lookup) tri {
	set := ev.table.Sets[e.SetName]
	v := ev.regs[e.SourceRegister]
	if set == nil || e.IsDestRegSet || v == nil || len(v) < int(set.KeyLen) {
		return maybe
	}
	in := set.contains(v[:set.KeyLen])
	if in == no && set.Truncated {
		return maybe
	}
	if e.Invert {
		return in.not()
	}
	return in
}

// contains says whether key is in the set: an element, or within an
// interval (an element that starts one up to the next interval end).
func (s *Set) contains(key []byte) tri {
	if !s.Interval {
		for _, el := range s.Elements {
			if bytes.Equal(el.Key, key) {
				return yes
			}
		}
		return no
	}
	var best *nftables.SetElement
	for i := range s.Elements {
		el := &s.Elements[i]
		if len(el.KeyEnd) != 0 {
			return maybe // pipapo ranges are not evaluated
		}
		if bytes.Compare(el.Key, key) <= 0 && (best == nil || bytes.Compare(el.Key, best.Key) > 0) {
			best = el
		}
	}
	return triOf(best != nil && !best.IntervalEnd)
}

// xtMatch evaluates the xt matches iptables-nft uses that can be told
// from the packet's headers; any other is undecided.
func (ev *evaluator) xtMatch(e *expr.Match) tri {
	p := ev.pkt
	switch info := e.Info.(type) {
	case *xt.Comment:
		return yes
	case *xt.Tcp:
		if !p.ProtoKnown || p.Proto != protoTCP {
			return triOf(p.ProtoKnown).not() // a known other protocol never matches
		}
		if info.Option != 0 || info.FlagsMask != 0 {
			return maybe // flags and options are not in the event
		}
		return portsMatch(p, info.SrcPorts, info.DstPorts, uint8(info.InvFlags))
	case *xt.Udp:
		if !p.ProtoKnown || p.Proto != protoUDP {
			return triOf(p.ProtoKnown).not()
		}
		return portsMatch(p, info.SrcPorts, info.DstPorts, uint8(info.InvFlags))
	case *xt.ConntrackMtinfo1:
		return ctStateMatch(p, &info.ConntrackMtinfoBase, uint32(info.StateMask))
	case *xt.ConntrackMtinfo2:
		return ctStateMatch(p, &info.ConntrackMtinfoBase, uint32(info.StateMask))
	case *xt.ConntrackMtinfo3:
		return ctStateMatch(p, &info.ConntrackMtinfoBase, uint32(info.StateMask))
	}
	if mp, ok := parseMultiport(e); ok {
		return mp.matches(p)
	}
	return maybe
}

// portsMatch is xt_tcp's and xt_udp's port test; inv bit 0 inverts the
// source range, bit 1 the destination one.
func portsMatch(p *Packet, src, dst [2]uint16, inv uint8) tri {
	in := func(v uint16, r [2]uint16, invert bool) bool { return (v >= r[0] && v <= r[1]) != invert }
	return triOf(in(p.Sport, src, inv&1 != 0) && in(p.Dport, dst, inv&2 != 0))
}

// xtConntrackState is XT_CONNTRACK_STATE, the only conntrack test evaluated.
const xtConntrackState = 1

func ctStateMatch(p *Packet, b *xt.ConntrackMtinfoBase, mask uint32) tri {
	if uint16(b.MatchFlags)&^xtConntrackStateAlias != xtConntrackState || p.CtState == 0 {
		return maybe
	}
	// xt's state bits 0-3 (invalid, established, related, new) are nft's.
	if mask&^0xf != 0 {
		return maybe
	}
	hit := p.CtState&mask != 0
	if b.InvertFlags&xtConntrackState != 0 {
		hit = !hit
	}
	return triOf(hit)
}
