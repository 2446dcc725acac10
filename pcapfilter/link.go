package pcapfilter

// Link says where the packet data handed to the filter starts.
type Link int

const (
	// Ethernet data starts at the MAC header (DLT_EN10MB).
	Ethernet Link = iota
	// RawIP data starts at the IPv4 or IPv6 header (DLT_RAW); this is
	// what most drop points see, the MAC header being gone.
	RawIP
)

// String returns the link's short name, used in labels and messages.
func (l Link) String() string {
	if l == RawIP {
		return "l3"
	}
	return "l2"
}

func (l Link) networkOffset() int {
	if l == RawIP {
		return 0
	}
	return 14
}
