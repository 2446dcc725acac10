package filter

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
