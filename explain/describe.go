package explain

import (
	"fmt"
	"io"
	"strings"
)

// descriptions says in one line what each core reason of enum
// skb_drop_reason means (Linux 5.17 to 6.18), written from the comments
// on the enum in include/net/dropreason-core.h (dropreason.h before 6.4,
// skbuff.h before 6.0).
var descriptions = map[string]string{
	"NOT_DROPPED_YET": "not a drop: the packet is still alive (the value a reason starts with)",
	"CONSUMED":        "not a drop: the packet was used up normally (consume_skb)",
	"NOT_SPECIFIED":   "dropped where the kernel gives no reason; the location says where",

	// sockets
	"NO_SOCKET":       "no socket matched the packet (nothing listens on that address and port)",
	"SOCKET_CLOSE":    "the socket was closed with the packet still queued on it",
	"SOCKET_FILTER":   "a socket filter (SO_ATTACH_FILTER, BPF) refused the packet",
	"SOCKET_RCVBUFF":  "the socket's receive buffer was full",
	"SOCKET_BACKLOG":  "the socket's backlog was full while its owner held the socket lock",
	"PROTO_MEM":       "the protocol's memory limit (udp_mem, tcp_mem) was reached",
	"UNIX_DISCONNECT": "a Unix datagram socket disconnected from its peer with packets queued",
	"UNIX_SKIP_OOB":   "out-of-band data on a Unix stream socket was skipped by the reader",
	"PFMEMALLOC":      "a packet taken from emergency memory reserves reached a socket not allowed to use them",

	// checksums, headers, sizes
	"PKT_TOO_SMALL": "the packet is shorter than its headers say",
	"PKT_TOO_BIG":   "the packet is larger than the path allows (MTU) and may not be fragmented",
	"TCP_CSUM":      "bad TCP checksum",
	"UDP_CSUM":      "bad UDP checksum",
	"ICMP_CSUM":     "bad ICMP checksum",
	"IP_CSUM":       "bad IPv4 header checksum",
	"SKB_CSUM":      "computing the packet's checksum failed",
	"IP_INHDR":      "bad IP header (version, length, or the TTL ran out when forwarding)",
	"HDR_TRUNC":     "a protocol header could not be pulled: the packet is truncated",
	"DEV_HDR":       "the device driver's header or metadata is invalid",
	"INVALID_PROTO": "the packet breaks its protocol's rules (e.g. an ICMP timestamp to broadcast)",
	"SKB_GSO_SEG":   "splitting a large (GSO) packet into segments failed",
	"SKB_BAD_GSO":   "the packet's segmentation offload (GSO) metadata is invalid (backported to stable 6.12)",

	// IP layer
	"NETFILTER_DROP":          "a netfilter rule (iptables, nftables) dropped the packet",
	"OTHERHOST":               "the packet's link-layer destination is another host",
	"IP_RPFILTER":             "reverse path filter: the source is not reachable through the interface it came in on",
	"UNICAST_IN_L2_MULTICAST": "a unicast IP packet came in a link-layer multicast or broadcast frame",
	"XFRM_POLICY":             "an IPsec (xfrm) policy check refused the packet",
	"IP_NOPROTO":              "no handler for the packet's IP protocol",
	"IP_OUTNOROUTES":          "no route for an outgoing packet",
	"IP_INADDRERRORS":         "bad destination address: host unreachable (IPSTATS_MIB_INADDRERRORS)",
	"IP_INNOROUTES":           "no route for a received packet: network unreachable",
	"IP_LOCAL_SOURCE":         "the source address of a received packet is one of this host's",
	"IP_INVALID_SOURCE":       "the source address is not valid (multicast, broadcast, zero network)",
	"IP_LOCALNET":             "a loopback (127/8) address on a device that does not allow it (route_localnet)",
	"IP_INVALID_DEST":         "the destination address is not valid (e.g. zero network or limited broadcast)",
	"IPV6DISABLED":            "IPv6 is disabled on the device",
	"IP_TUNNEL_ECN":           "tunnel decapsulation: the outer header's ECN mark cannot be carried to the inner packet",
	"TUNNEL_TXINFO":           "a packet for a metadata tunnel had no tunnel information to send with",
	"UNHANDLED_PROTO":         "the protocol is not implemented or not supported here",

	// fragments
	"DUP_FRAG":           "duplicate IP fragment",
	"FRAG_REASM_TIMEOUT": "IP fragment reassembly timed out: not every fragment arrived",
	"FRAG_TOO_FAR":       "the IPv4 fragment is too far from its peers (ipfrag_max_dist)",

	// IPv6
	"IPV6_BAD_EXTHDR":         "bad IPv6 extension header",
	"IPV6_TOO_MANY_EXTHDRS":   "more IPv6 extension headers than the kernel walks",
	"IPV6_NDISC_FRAG":         "neighbour discovery message in a fragment, which is not allowed",
	"IPV6_NDISC_HOP_LIMIT":    "neighbour discovery message with a hop limit other than 255",
	"IPV6_NDISC_BAD_CODE":     "neighbour discovery message with an invalid ICMPv6 code",
	"IPV6_NDISC_BAD_OPTIONS":  "neighbour discovery message with invalid options",
	"IPV6_NDISC_NS_OTHERHOST": "neighbour solicitation for an address of another host",

	// TCP
	"TCP_AUTH_HDR":             "TCP-MD5 or TCP-AO option present twice or malformed",
	"TCP_MD5NOTFOUND":          "TCP-MD5 signature expected but missing",
	"TCP_MD5UNEXPECTED":        "TCP-MD5 signature present but not expected",
	"TCP_MD5FAILURE":           "TCP-MD5 signature wrong",
	"TCP_AONOTFOUND":           "TCP-AO signature expected but missing",
	"TCP_AOUNEXPECTED":         "TCP-AO signature present but not expected",
	"TCP_AOKEYNOTFOUND":        "TCP-AO key unknown",
	"TCP_AOFAILURE":            "TCP-AO signature wrong",
	"TCP_FLAGS":                "invalid combination of TCP flags",
	"TCP_ABORT_ON_DATA":        "data arrived for a TCP socket its application had already closed",
	"TCP_ZEROWINDOW":           "TCP data arrived while the receive window was zero",
	"TCP_OLD_DATA":             "TCP data already received (a spurious retransmission)",
	"TCP_OVERWINDOW":           "TCP data beyond the right edge of the receive window",
	"TCP_OFOMERGE":             "TCP data already in the out-of-order queue",
	"TCP_RFC7323_PAWS":         "TCP timestamp older than the last seen (PAWS, RFC 7323)",
	"TCP_RFC7323_PAWS_ACK":     "TCP pure ACK rejected by the PAWS timestamp check",
	"TCP_RFC7323_TW_PAWS":      "TCP segment to a TIME_WAIT socket rejected by the PAWS timestamp check",
	"TCP_RFC7323_TSECR":        "TCP timestamp echo reply not one this host sent",
	"TCP_LISTEN_OVERFLOW":      "TCP listener's accept queue was full",
	"TCP_OLD_SEQUENCE":         "TCP sequence number already seen (a duplicate segment)",
	"TCP_INVALID_SEQUENCE":     "TCP sequence number not acceptable",
	"TCP_INVALID_END_SEQUENCE": "TCP segment ends outside the acceptable window",
	"TCP_INVALID_ACK_SEQUENCE": "TCP acknowledgement number not acceptable",
	"TCP_RESET":                "invalid TCP reset",
	"TCP_INVALID_SYN":          "unexpected TCP SYN",
	"TCP_CLOSE":                "TCP segment for a socket in the CLOSE state",
	"TCP_FASTOPEN":             "dropped by a TCP Fast Open request socket",
	"TCP_OLD_ACK":              "TCP acknowledgement old but inside the window",
	"TCP_TOO_OLD_ACK":          "TCP acknowledgement too old",
	"TCP_ACK_UNSENT_DATA":      "TCP acknowledgement of data not sent yet",
	"TCP_OFO_QUEUE_PRUNE":      "pruned from the TCP out-of-order queue to free memory",
	"TCP_OFO_DROP":             "TCP out-of-order data already in the receive queue",
	"TCP_MINTTL":               "TTL or hop limit below the socket's minimum (IP_MINTTL, IPV6_MINHOPCOUNT)",

	// neighbours
	"NEIGH_CREATEFAIL":  "creating the neighbour (ARP/NDP) entry failed",
	"NEIGH_FAILED":      "neighbour resolution failed: the next hop did not answer ARP/NDP",
	"NEIGH_QUEUEFULL":   "too many packets waiting for the neighbour to resolve",
	"NEIGH_DEAD":        "the neighbour entry was being removed",
	"NEIGH_HH_FILLFAIL": "filling the cached link-layer header failed",

	// devices, queues, traffic control
	"BPF_CGROUP_EGRESS":  "a cgroup BPF program (BPF_PROG_TYPE_CGROUP_SKB) refused the packet",
	"TC_EGRESS":          "dropped at the tc egress hook",
	"TC_INGRESS":         "dropped at the tc ingress hook",
	"TC_COOKIE_ERROR":    "tc failed to handle an extended action cookie",
	"TC_CHAIN_NOTFOUND":  "tc jumped to a chain that does not exist",
	"TC_RECLASSIFY_LOOP": "tc reclassified the packet too many times",
	"QDISC_DROP":         "the queueing discipline refused the packet (queue full)",
	"QDISC_OVERLIMIT":    "the queueing discipline was over its limit",
	"QDISC_CONGESTED":    "the queueing discipline's AQM dropped the packet to signal congestion",
	"CAKE_FLOOD":         "CAKE's flood protection dropped the packet",
	"FQ_BAND_LIMIT":      "the fq qdisc's per-band packet limit was reached",
	"FQ_HORIZON_LIMIT":   "the packet's timestamp is beyond the fq qdisc's horizon",
	"FQ_FLOW_LIMIT":      "the fq qdisc's per-flow packet limit was reached",
	"DUALPI2_STEP_DROP":  "the DualPI2 qdisc's step threshold dropped the packet",
	"CPU_BACKLOG":        "the CPU's input backlog was full (netdev_max_backlog) or an RPS flow limit hit",
	"XDP":                "an XDP program dropped the packet",
	"SKB_UCOPY_FAULT":    "copying the packet's data from user space failed",
	"DEV_READY":          "the device was not ready (down, or its queues not set up)",
	"FULL_RING":          "the device's ring buffer was full",
	"NOMEM":              "out of memory",
	"TAP_FILTER":         "the BPF filter attached to the tun/tap device refused the packet",
	"TAP_TXFILTER":       "the tun/tap device's transmit filter refused the packet",
	"SECURITY_HOOK":      "a security module (LSM) hook refused the packet",
	"QUEUE_PURGE":        "freed with a whole queue at once (a socket or device being cleaned up)",
	"PACKET_SOCK_ERROR":  "a packet socket failed after its filter accepted the packet",
	"RECURSION_LIMIT":    "the transmit path recursed too deeply (stacked or looping devices)",
	"SKB_RX_HEADROOM":    "the received packet had too little headroom and it could not be grown",
	"NO_TX_TARGET":       "nowhere to send the packet (no destination for it in the device's table)",

	// tunnels, bridges, link layer
	"VXLAN_INVALID_HDR":        "invalid VXLAN header",
	"VXLAN_VNI_NOT_FOUND":      "no VXLAN device for the packet's VNI",
	"VXLAN_ENTRY_EXISTS":       "the source is already in the VXLAN forwarding table as an entry that may not move",
	"MAC_INVALID_SOURCE":       "invalid source MAC address",
	"LOCAL_MAC":                "the source MAC address is one of this host's",
	"ARP_PVLAN_DISABLE":        "proxy ARP for a private VLAN is off, so the ARP is not sent back out its port",
	"MAC_IEEE_MAC_CONTROL":     "an IEEE 802.3 MAC control frame, which a bridge does not forward",
	"BRIDGE_INGRESS_STP_STATE": "the bridge port's spanning tree state does not let frames in",
	"CAN_RX_INVALID_FRAME":     "invalid CAN frame received",
	"CANFD_RX_INVALID_FRAME":   "invalid CAN FD frame received",
	"CANXL_RX_INVALID_FRAME":   "invalid CAN XL frame received",
	"PSP_INPUT":                "a received packet failed the PSP security protocol policy",
	"PSP_OUTPUT":               "a packet to send failed the PSP security protocol policy",
}

// subsystems describe reasons of subsystem enums (6.6+), which come from
// module BTF and so vary with what is loaded.
var subsystems = []struct{ prefix, what string }{
	{"OVS_DROP_", "Open vSwitch dropped the packet"},
	{"RX_DROP_", "the mac80211 wireless stack dropped the frame"},
	{"SUBSYS_", "a reason of a kernel subsystem that droptrace cannot name"},
	{"UNKNOWN(", "a reason droptrace cannot name"},
}

// Describe returns a one-line description of a drop reason as
// kernel.DropReasons names it ("NO_SOCKET", "OVS_DROP_METER"); "" for
// a name it does not know.
func Describe(name string) string {
	if d, ok := descriptions[name]; ok {
		return d
	}
	for _, s := range subsystems {
		if rest, ok := strings.CutPrefix(name, s.prefix); ok {
			if s.prefix == "SUBSYS_" || s.prefix == "UNKNOWN(" {
				return s.what
			}
			return s.what + ": " + strings.ToLower(strings.ReplaceAll(rest, "_", " "))
		}
	}
	return ""
}

// WriteList writes "NAME  description" for each name, the names padded
// to one column, as --list-reasons prints them.
func WriteList(w io.Writer, names []string) error {
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		d := Describe(n)
		if d == "" {
			d = "-"
		}
		if _, err := fmt.Fprintf(w, "%-*s  %s\n", width, n, d); err != nil {
			return fmt.Errorf("writing reason list: %w", err)
		}
	}
	return nil
}
