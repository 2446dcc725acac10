package netfilter

import (
	"bytes"
	"encoding/binary"

	"github.com/google/nftables/expr"
)

// headerExprs turns an entry's struct ipt_ip (ip6t_ip6) into the
// expressions iptables-nft makes of the same options (-s, -d, -i, -o,
// -p, -f), which the replay evaluates and IptablesText prints.
func (lay *xtLayout) headerExprs(b []byte) []expr.Any {
	inv := b[lay.invflags]
	srcOff, dstOff := uint32(12), uint32(16)
	if lay.addrLen == 16 {
		srcOff, dstOff = 8, 24
	}
	var out []expr.Any
	out = append(out, lay.addrExprs(b[lay.src:], b[lay.smsk:], srcOff, inv&xtInvSrcIP != 0)...)
	out = append(out, lay.addrExprs(b[lay.dst:], b[lay.dmsk:], dstOff, inv&xtInvDstIP != 0)...)
	out = append(out, ifaceExprs(expr.MetaKeyIIFNAME, b[lay.iniface:lay.iniface+16], b[lay.inMask:lay.inMask+16], inv&xtInvViaIn != 0)...)
	out = append(out, ifaceExprs(expr.MetaKeyOIFNAME, b[lay.outiface:lay.outiface+16], b[lay.outMask:lay.outMask+16], inv&xtInvViaOut != 0)...)
	if proto := binary.NativeEndian.Uint16(b[lay.proto:]); proto != 0 {
		out = append(out, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: xtCmpOp(inv&xtInvProto != 0), Register: 1, Data: []byte{byte(proto)}})
	}
	if lay.fragFlag != 0 && b[lay.flags]&lay.fragFlag != 0 {
		// -f: a fragment other than the first, frag-off & 0x1fff != 0
		out = append(out, &expr.Payload{OperationType: expr.PayloadLoad, DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 6, Len: 2},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 2, Mask: []byte{0x1f, 0xff}, Xor: []byte{0, 0}},
			&expr.Cmp{Op: xtCmpOp(inv&xtInvFrag == 0), Register: 1, Data: []byte{0, 0}})
	}
	return out
}

// xtCmpOp is != for an inverted option, == otherwise.
func xtCmpOp(invert bool) expr.CmpOp {
	if invert {
		return expr.CmpOpNeq
	}
	return expr.CmpOpEq
}

// addrExprs matches an address under its mask; none for a zero mask
// (any address).
func (lay *xtLayout) addrExprs(addr, mask []byte, offset uint32, invert bool) []expr.Any {
	n := lay.addrLen
	addr, mask = addr[:n], mask[:n]
	if !invert && bytes.Count(mask, []byte{0}) == n {
		return nil
	}
	data := make([]byte, n)
	for i := range data {
		data[i] = addr[i] & mask[i]
	}
	out := []expr.Any{&expr.Payload{OperationType: expr.PayloadLoad, DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: uint32(n)}}
	if bytes.Count(mask, []byte{0xff}) != n {
		out = append(out, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(n), Mask: append([]byte(nil), mask...), Xor: make([]byte, n)})
	}
	return append(out, &expr.Cmp{Op: xtCmpOp(invert), Register: 1, Data: data})
}

// ifaceExprs matches a device name: iptables masks the name and its NUL
// for an exact name, the name alone for a prefix ("veth+"), which is
// how iptables-nft's cmp data tells them apart too.
func ifaceExprs(key expr.MetaKey, name, mask []byte, invert bool) []expr.Any {
	n := 0
	for n < len(mask) && mask[n] == 0xff {
		n++
	}
	if n == 0 {
		return nil // "+": any device
	}
	return []expr.Any{&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: xtCmpOp(invert), Register: 1, Data: append([]byte(nil), name[:n]...)}}
}
