package filter

import "net/netip"

// Proto is an IP protocol number to match, 0 for any.
type Proto uint8

// Protocols accepted by --filter-proto.
const (
	ProtoAny   Proto = 0
	ProtoICMP  Proto = 1
	ProtoTCP   Proto = 6
	ProtoUDP   Proto = 17
	ProtoICMP6 Proto = 58
)

// Spec is a validated set of filters; the zero value matches everything.
type Spec struct {
	Src, Dst netip.Prefix // invalid (zero) when not given
	Port     uint16       // 0 when not given
	Proto    Proto
	Netns    uint32 // namespace inode, 0 when not given
	Ifname   string // "" when not given
	Reasons  []uint32
}
