package explain

import (
	"strings"

	"github.com/droptrace/droptrace/event"
)

// Symbol returns the function name of a location as droptrace prints it,
// "ip_error+0x94" or "nft_do_chain+0x4f0 [nf_tables]": "ip_error". A
// compiler suffix (".isra.0", ".constprop.0", ".cold") is removed, so that
// names match across kernel builds.
func Symbol(location string) string {
	sym, _, _ := strings.Cut(location, "+")
	sym, _, _ = strings.Cut(sym, " ")
	sym, _, _ = strings.Cut(sym, ".")
	return sym
}

// site is a well-known place where the kernel frees packets without a
// reason (NOT_SPECIFIED): what it means there, and which evidence shows it.
type site struct {
	advice
	probe probeKind
}

// sites are matched by symbol name, so they hold across kernel versions
// as long as the function keeps its name; functions that moved are listed
// under each of their names.
var sites = map[string]site{
	"ip_error": {advice{"routing refused the packet: the route to the destination is blackhole, unreachable or prohibit, or there is none",
		"add or fix the route to the destination (or remove the reject route if it is not wanted)", ""}, probeRoute},
	"ip6_pkt_drop":     {advice{"IPv6 routing refused the packet: a reject route (blackhole, unreachable, prohibit) or none", "add or fix the route to the destination", ""}, probeRoute},
	"ip6_pkt_discard":  {advice{"IPv6 routing discarded the packet: an unreachable or blackhole route", "add or fix the route to the destination", ""}, probeRoute},
	"ip6_pkt_prohibit": {advice{"IPv6 routing refused the packet: a prohibit route", "remove the prohibit route if the traffic should pass", ""}, probeRoute},
	"__dev_forward_skb2": {advice{"the packet is larger than the MTU of the veth (or similar) peer it was sent into",
		"give both ends of the pair the same MTU", ""}, probeMTU},
	"__dev_forward_skb": {advice{"the packet is larger than the MTU of the veth (or similar) peer it was sent into",
		"give both ends of the pair the same MTU", ""}, probeMTU},
	"ip6_mc_input": {advice{"IPv6 multicast for a group this host has not joined",
		"not packet loss: hidden by default as routine (--show-routine shows it)", ""}, probeNone},
	"ip_forward": {advice{"forwarding refused the packet (not addressed to this host's MAC, too big with DF set, or an IPsec policy)",
		"check forwarding, the MTU of the way out, and IPsec policies", docIPSysctl}, probeRoute},
	"ip6_forward": {advice{"IPv6 forwarding refused the packet (forwarding off, hop limit, too big, or policy)",
		"check net.ipv6.conf.all.forwarding, the MTU of the way out, and IPsec policies", docIPSysctl}, probeRoute},
	"tcp_v4_rcv": {advice{"TCP dropped a segment for a connection that is closing or closed (TIME_WAIT, or closed by its application), and answered with a reset",
		"usually the peer sending after the application closed the connection: make the application read until the peer is done, or the peer stop sending", ""}, probeTCP},
	"tcp_v6_rcv": {advice{"TCP dropped a segment for a connection that is closing or closed (TIME_WAIT, or closed by its application), and answered with a reset",
		"usually the peer sending after the application closed the connection: make the application read until the peer is done, or the peer stop sending", ""}, probeTCP},
	"__dev_queue_xmit": {advice{"the transmit path dropped the packet (device down, or no queue)",
		"check that the device is up and its qdisc", ""}, probeQdisc},
	"__netif_receive_skb_core": {advice{"no protocol handler took the packet (an unknown EtherType, or a VLAN with no device)",
		"stop sending that protocol here, or create the VLAN device", ""}, probeNone},
	"udp_destruct_common": {advice{"a UDP socket was closed with datagrams still queued",
		"not packet loss on the wire: the application closed without reading", ""}, probeNone},
	"udp_destruct_sock":     {advice{"a UDP socket was closed with datagrams still queued", "not packet loss on the wire: the application closed without reading", ""}, probeNone},
	"inet_sock_destruct":    {advice{"a socket was destroyed with packets still queued", "not packet loss on the wire: routine cleanup", ""}, probeNone},
	"sk_stream_kill_queues": {advice{"a TCP socket was destroyed with packets still queued", "not packet loss on the wire: routine cleanup", ""}, probeNone},
	"skb_queue_purge_reason": {advice{"a queue was freed as a whole, because its socket or device went away",
		"not packet loss on the wire: routine cleanup", ""}, probeNone},
	"packet_rcv":  {advice{"a packet socket (tcpdump, a DHCP client) could not take its copy: its buffer was full", "read the packet socket faster or enlarge its buffer", ""}, probeNone},
	"tpacket_rcv": {advice{"a packet socket's ring (tcpdump, AF_PACKET) was full", "read the ring faster or enlarge it", ""}, probeNone},
	"arp_rcv":     {advice{"an ARP packet was refused (malformed, or the device does not do ARP)", "check the sender and the device's NOARP flag", ""}, probeNone},
	"neigh_resolve_output": {advice{"the next hop's link-layer address could not be resolved",
		"check that the next hop answers ARP/neighbour solicitation", docIPSysctl}, probeNeigh},
	"__neigh_event_send": {advice{"the next hop's link-layer address could not be resolved in time",
		"check that the next hop answers ARP/neighbour solicitation", docIPSysctl}, probeNeigh},
	"neigh_invalidate": {advice{"the next hop never answered ARP or neighbour solicitation",
		"check that the next hop is up and on this link", docIPSysctl}, probeNeigh},
}

// siteOf returns the well-known site of ev's location, if any.
func siteOf(ev *event.Event) (site, bool) {
	s, ok := sites[Symbol(ev.Location)]
	return s, ok
}
