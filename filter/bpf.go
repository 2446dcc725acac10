package filter

import (
	"encoding/binary"
	"net/netip"
)

// Constants returns the values of the BPF program's filter_* volatile
// consts for this Spec. A filter that is not given keeps its zero value,
// which the verifier sees and prunes, so it costs nothing per packet.
// Addresses and the port are laid out in network byte order, as the
// program reads them from packet headers.
func (s Spec) Constants() map[string]any {
	c := map[string]any{
		"filter_reason_on": boolByte(len(s.Reasons) > 0),
		"filter_netns":     s.Netns,
		"filter_ifname_on": boolByte(s.Ifname != ""),
		"filter_ifname":    ifnameBytes(s.Ifname),
		"filter_proto":     uint8(s.Proto),
		"filter_port":      networkOrder16(s.Port),
	}
	prefixConstants(c, "filter_src_", s.Src)
	prefixConstants(c, "filter_dst_", s.Dst)
	return c
}

func prefixConstants(c map[string]any, name string, p netip.Prefix) {
	var family uint8
	var addr, mask [4]uint32
	if p.IsValid() {
		family = 4
		if p.Addr().Is6() {
			family = 6
		}
		addr, mask = words(p)
	}
	c[name+"family"] = family
	c[name+"addr"] = addr
	c[name+"mask"] = mask
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

func ifnameBytes(name string) [16]byte {
	var b [16]byte
	copy(b[:15], name)
	return b
}

func networkOrder16(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

func boolByte(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}
