package event

import (
	"net/netip"
	"strconv"
	"time"
)

// LinkType says how Event.Packet starts.
type LinkType uint8

const (
	// LinkNone means no packet bytes were captured.
	LinkNone LinkType = iota
	// LinkEthernet means Packet starts with a 14-byte Ethernet header.
	LinkEthernet
	// LinkRawIP means Packet starts with an IPv4 or IPv6 header.
	LinkRawIP
)

// Event is one decoded event from the kernel, ready to be annotated and
// written.
type Event struct {
	Time         time.Time
	Kind         Kind
	Reason       string // drop reason name without the SKB_DROP_REASON_ prefix, e.g. "NETFILTER_DROP"; "" when the kernel has no reasons
	ReasonCode   uint32
	Location     string // symbolized drop location, e.g. "nft_do_chain+0x4f0 [nf_tables]"
	LocationAddr uint64
	Netns        uint32 // network namespace inode, 0 when unknown
	Ifindex      uint32
	Ifname       string
	Mark         uint32
	EtherType    uint16     // skb->protocol in host order, e.g. 0x0800
	Proto        string     // "tcp", "udp", "icmp", "icmp6", another IP protocol number as a decimal string, or "" when no IP header was found
	Src, Dst     netip.Addr // invalid when no IP header was found
	Sport, Dport uint16     // 0 when the protocol has no ports
	TCPFlags     uint8      // byte 13 of a TCP packet's header (FIN 0x01 ... CWR 0x80); 0 when not TCP or no packet
	Len          uint32     // skb->len
	CPU          uint32
	Skb          uint64   // skb address, printed in hex to join events
	Func         string   // path tracing: the function or tracepoint ("tp:name") the skb passed
	Path         uint64   // path tracing: generation of the skb's path, 0 otherwise; PathID joins its steps
	Stack        []string // kernel stack, innermost first, with --output-stack

	// Packet holds the first bytes of the packet when capture was asked for.
	Packet   []byte
	LinkType LinkType
	OrigLen  uint32 // length of the whole packet from the start of Packet

	// The TCP socket of a TCP event, or of a dropped TCP packet (--tcp).
	TCPState     string   // e.g. "ESTABLISHED" at the event; "" when there is no socket
	SockCookie   uint64   // socket cookie, as sock_diag reports it; 0 when none or unknown
	SockSrcLocal bool     // Src/Sport are the socket's local end (always for TCP events)
	TCPInfo      *TCPInfo // the socket's tcp_info; nil when not looked up

	// CTState is the dropped skb's conntrack state as nft's ct state bits
	// (invalid 1, established 2, related 4, new 8, untracked 64); 0 when
	// not read. CTStatus is the low 16 bits of its connection's status
	// (IPS_*), 0 when it has none.
	CTState  uint8
	CTStatus uint16
	// Reply is what the kernel sent back just before the drop (a REJECT's
	// ICMP error or RST); nil when none was seen or not looked for.
	Reply *ReplySeen
	// KernelRule is the nftables rule the kernel itself said dropped a
	// NETFILTER_DROP packet; nil when it did not say (no kprobes or
	// fentry, or not looked for).
	KernelRule *KernelRule

	Explain   *Explain   // cause, evidence and fix of a drop (--explain); nil when not explained
	Netfilter *Netfilter // the firewall rule of a NETFILTER_DROP; nil when not attributed

	Pod *Pod // names of the event's network namespace; nil when not annotated
}

// PathID is the id of a path tracing step's path, the skb address and the
// path's generation ("0xffff888100a2b300-7"); "" outside path tracing.
// An address freed and reused is a new path with a new generation.
func (ev *Event) PathID() string {
	if ev.Path == 0 {
		return ""
	}
	return "0x" + strconv.FormatUint(ev.Skb, 16) + "-" + strconv.FormatUint(ev.Path, 10)
}

// SummaryKey returns the key --summary would count ev under.
func (ev *Event) SummaryKey() SummaryKey {
	return SummaryKey{
		Reason: ev.Reason, ReasonCode: ev.ReasonCode,
		Location: ev.Location, LocationAddr: ev.LocationAddr,
		Netns: ev.Netns, Ifindex: ev.Ifindex, Ifname: ev.Ifname, Proto: ev.Proto,
	}
}

// Writer consumes events. Implementations are not safe for concurrent use.
type Writer interface {
	Write(ev *Event) error
	Close() error
}

// ReasonText is a drop reason's name, or its number when the decoder could
// not name it (a kernel newer than our table), because the number can
// still be looked up; "" when there is neither.
func ReasonText(name string, code uint32) string {
	switch {
	case name != "":
		return name
	case code != 0:
		return strconv.FormatUint(uint64(code), 10)
	default:
		return ""
	}
}
