package tracer

import (
	"encoding/binary"
	"net/netip"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/filter"
)

// filterConfig lays out the filters of s as the BPF programs' filters
// constant holds them (struct filter_cfg, bpf/filter.h). A filter that is
// not given keeps its zero value, which the verifier sees and prunes, so
// it costs nothing per packet. Addresses and the port are in network byte
// order, as the programs read them from packet headers. The drop, trace
// and TCP objects share the struct; converting to their types fails to
// compile if they ever differ.
func filterConfig(s filter.Spec) bpf.DropFilterCfg {
	c := bpf.DropFilterCfg{
		ReasonOn:        boolByte(len(s.Reasons) > 0),
		ReasonExcludeOn: boolByte(len(s.Exclude) > 0),
		Netns:           s.Netns,
		IfnameOn:        boolByte(s.Ifname != ""),
		Ifname:          ifnameChars(s.Ifname),
		Proto:           uint8(s.Proto),
		Port:            networkOrder16(s.Port),
		PcapOn:          boolByte(s.Expr != ""),
	}
	c.SrcFamily, c.SrcAddr, c.SrcMask = prefixWords(s.Src)
	c.DstFamily, c.DstAddr, c.DstMask = prefixWords(s.Dst)
	return c
}

// prefixWords returns the family (0 when p is not given, 4 or 6), the
// address and the mask of p.
func prefixWords(p netip.Prefix) (family uint8, addr, mask [4]uint32) {
	if !p.IsValid() {
		return 0, addr, mask
	}
	family = 4
	if p.Addr().Is6() {
		family = 6
	}
	addr, mask = words(p)
	return family, addr, mask
}

// words splits a prefix into 32-bit words as they lie in memory, so the
// program compares them to header bytes without swapping.
func words(p netip.Prefix) (addr, mask [4]uint32) {
	raw := p.Masked().Addr().AsSlice()
	bits := p.Bits()
	for i := 0; i < len(raw)/4; i++ {
		addr[i] = binary.NativeEndian.Uint32(raw[i*4:])
		var m [4]byte
		for b := 0; b < 32; b++ {
			if i*32+b < bits {
				m[b/8] |= 0x80 >> (b % 8)
			}
		}
		mask[i] = binary.NativeEndian.Uint32(m[:])
	}
	return addr, mask
}

// ifnameChars is name as a NUL-terminated C char array.
func ifnameChars(name string) [16]int8 {
	var b [16]int8
	for i := 0; i < len(name) && i < len(b)-1; i++ {
		b[i] = int8(name[i])
	}
	return b
}

func networkOrder16(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
