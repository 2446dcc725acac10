package pcapfilter

import "net/netip"

// node is a boolean part of the expression: a primitive, a relation, or
// and/or/not of nodes. Offsets that depend on earlier "vlan" keywords are
// fixed when the node is parsed, as libpcap does.
type node interface{ isNode() }

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ x node }

// family selects IPv4, IPv6 or both.
type family int

const (
	famAny family = iota
	famV4
	famV6
)

// l3Node is "ip", "ip6", "arp" or "rarp": a network-layer protocol test.
type l3Node struct {
	proto l3Proto
	nh    int
}

type l3Proto int

const (
	l3IPv4 l3Proto = iota
	l3IPv6
	l3ARP
	l3RARP
)

// ipProtoNode is "tcp", "icmp", "ip proto 6", "ip6 proto 58", "proto 17".
// With direct, an IPv6 test looks at the fixed header's next header only,
// as libpcap does for icmp6[]; otherwise one fragment header is skipped.
type ipProtoNode struct {
	fam    family
	proto  uint8
	nh     int
	direct bool
}

// firstFragNode holds for an IPv4 packet whose fragment offset is 0, the
// one fragment that carries the transport header.
type firstFragNode struct{ nh int }

// direction qualifies host, net and port.
type direction int

const (
	dirSrcOrDst direction = iota
	dirSrcAndDst
	dirSrc
	dirDst
)

// addrNode is "host" or "net" for IPv4 (also in ARP/RARP) or IPv6.
type addrNode struct {
	l3     []l3Proto // protocols to look in, in order
	dir    direction
	prefix netip.Prefix
	nh     int
}

// portNode is "port" or "portrange", with an optional tcp/udp/sctp.
type portNode struct {
	protos []uint8 // IP protocols carrying the port
	dir    direction
	lo, hi uint16
	nh     int
}

// vlanNode is "vlan" or "vlan ID"; it shifts later offsets by 4.
type vlanNode struct {
	id    int // -1 for any
	typeO int // offset of the ethertype that must be a VLAN TPID
}

// relNode compares two arithmetic expressions: "tcp[13] & 2 != 0".
type relNode struct {
	op   string
	l, r arith
}

func (andNode) isNode()       {}
func (orNode) isNode()        {}
func (notNode) isNode()       {}
func (l3Node) isNode()        {}
func (ipProtoNode) isNode()   {}
func (addrNode) isNode()      {}
func (portNode) isNode()      {}
func (vlanNode) isNode()      {}
func (firstFragNode) isNode() {}
func (relNode) isNode()       {}

// arith is a 32-bit unsigned arithmetic expression as in pcap-filter.
type arith interface{ isArith() }

type numArith struct{ v uint32 }
type lenArith struct{}

// loadArith is proto[idx:size]; its guard says when the load applies.
type loadArith struct {
	layer loadLayer
	guard node // nil when the load needs no protocol test (ether[])
	base  int  // offset of the layer, from the start of the data
	idx   arith
	size  int
}

type loadLayer int

const (
	layerLink      loadLayer = iota // ether[]: from the start of the data
	layerNetwork                    // ip[], ip6[], arp[]: from the network header
	layerTransport                  // tcp[], udp[], icmp[]...: after the IPv4 header
)

type binArith struct {
	op   string
	l, r arith
}

func (numArith) isArith()  {}
func (lenArith) isArith()  {}
func (loadArith) isArith() {}
func (binArith) isArith()  {}
