package explain

// advice is what is known of a drop without looking at the system.
type advice struct {
	cause, fix, doc string
}

// Links to the kernel documentation the fixes refer to.
const (
	docIPSysctl   = "https://docs.kernel.org/networking/ip-sysctl.html"
	docNetSysctl  = "https://docs.kernel.org/admin-guide/sysctl/net.html"
	docScaling    = "https://docs.kernel.org/networking/scaling.html"
	docFilter     = "https://docs.kernel.org/networking/filter.html"
	docTCPAO      = "https://docs.kernel.org/networking/tcp_ao.html"
	docTunTap     = "https://docs.kernel.org/networking/tuntap.html"
	docBridge     = "https://docs.kernel.org/networking/bridge.html"
	docVXLAN      = "https://docs.kernel.org/networking/vxlan.html"
	docCAN        = "https://docs.kernel.org/networking/can.html"
	docLSM        = "https://docs.kernel.org/admin-guide/LSM/index.html"
	docSegOffload = "https://docs.kernel.org/networking/segmentation-offloads.html"
	docXfrm       = "https://docs.kernel.org/networking/xfrm_sysctl.html"
)

// reasonAdvice holds the cause and fix of the reasons worth more than
// their description. A reason not here is explained by its description
// and genericFix.
var reasonAdvice = map[string]advice{
	"NETFILTER_DROP": {"a netfilter rule (iptables or nftables) dropped the packet",
		"find the rule (iptables-save, nft list ruleset, or the rule shown) and change it if this traffic should pass", ""},
	"NO_SOCKET": {"nothing listens on the destination port in this network namespace",
		"start the service, or make it bind the address and family the packet was sent to", ""},
	"SOCKET_RCVBUFF": {"the receiving socket's buffer was full: its application reads more slowly than packets arrive",
		"read faster, or raise SO_RCVBUF (capped by net.core.rmem_max)", docNetSysctl},
	"SOCKET_BACKLOG": {"the socket's backlog was full while its application held the socket",
		"read faster, or raise the receive buffer (SO_RCVBUF, net.core.rmem_max, tcp_rmem)", docNetSysctl},
	"PROTO_MEM": {"the protocol's memory for all sockets (udp_mem or tcp_mem) was used up",
		"find the sockets holding memory (ss -m), or raise net.ipv4.udp_mem / tcp_mem", docIPSysctl},
	"SOCKET_FILTER": {"a socket filter (BPF) attached to the receiving socket refused the packet",
		"check the program's filter (SO_ATTACH_FILTER); usually intended", docFilter},
	"IP_RPFILTER": {"reverse path filtering: the route back to the source does not leave through the interface the packet came in on",
		"make the return route go out that interface, or relax rp_filter (2 = loose, 0 = off) for all and the device", docIPSysctl},
	"IP_OUTNOROUTES": {"no route for the outgoing packet in this namespace",
		"add a route (or a default route) for the destination", ""},
	"IP_INNOROUTES": {"the received packet's destination has no route (network unreachable)",
		"add a route for the destination, or enable forwarding if this host is a router", docIPSysctl},
	"IP_INADDRERRORS": {"the received packet's destination is not a valid address here (host unreachable)",
		"check the sender's addressing and this host's routes", docIPSysctl},
	"PKT_TOO_BIG": {"the packet is larger than the MTU of the way out and may not be fragmented",
		"make the MTUs agree along the path, or let path MTU discovery work (do not block ICMP fragmentation-needed)", docIPSysctl},
	"QDISC_DROP": {"the queueing discipline of the outgoing device was full",
		"send more slowly, or raise the qdisc's limit (tc qdisc change ... limit)", ""},
	"QDISC_OVERLIMIT": {"the queueing discipline was over its limit", "raise the qdisc's limit or send more slowly", ""},
	"QDISC_CONGESTED": {"the qdisc's active queue management dropped the packet to signal congestion", "expected under congestion; use ECN to get marks instead of drops", ""},
	"TC_EGRESS":       {"a tc filter or action on the egress hook dropped the packet", "list the device's egress filters (tc filter show dev DEV egress)", ""},
	"TC_INGRESS":      {"a tc filter or action on the ingress hook dropped the packet", "list the device's ingress filters (tc filter show dev DEV ingress)", ""},
	"NEIGH_FAILED": {"the next hop never answered ARP or neighbour solicitation",
		"check that the next hop is up and on this link, and that its address is right", docIPSysctl},
	"NEIGH_QUEUEFULL": {"too many packets were waiting for the next hop's link-layer address",
		"check that the next hop answers ARP; raise neigh unres_qlen_bytes only if it answers slowly", docIPSysctl},
	"NEIGH_CREATEFAIL": {"the neighbour table could not take another entry",
		"raise net.ipv4.neigh.default.gc_thresh3 (and gc_thresh2), or reduce the number of neighbours", docIPSysctl},
	"NEIGH_DEAD": {"the next hop's neighbour entry was being deleted", "transient; look for flapping interfaces or neighbour flushes", ""},
	"FRAG_REASM_TIMEOUT": {"not every fragment of an IP packet arrived within the reassembly time",
		"find where fragments are lost, avoid fragmentation (smaller MTU or MSS), or raise ipfrag_time", docIPSysctl},
	"FRAG_TOO_FAR": {"an IPv4 fragment came too far out of order (ipfrag_max_dist)",
		"raise net.ipv4.ipfrag_max_dist, or avoid fragmentation", docIPSysctl},
	"DUP_FRAG":    {"a fragment came twice", "usually harmless; look for duplication on the path", ""},
	"CPU_BACKLOG": {"the CPU's input backlog was full", "raise net.core.netdev_max_backlog, or spread the load (RPS)", docScaling},
	"OTHERHOST": {"the frame was addressed to another host's MAC address (the device is promiscuous, or a bridge flooded it)",
		"harmless on a promiscuous device; otherwise check the sender's ARP/neighbour entry for this host", ""},
	"PKT_TOO_SMALL": {"the packet is shorter than its headers say (truncated or malformed)",
		"look at the sender or a device on the path that truncates packets", ""},
	"IP_CSUM": {"the IPv4 header checksum is wrong: the packet was corrupted or mangled",
		"look for a faulty link, NIC or checksum offload on the path", ""},
	"TCP_CSUM": {"the TCP checksum is wrong", "look for corruption on the path or a broken checksum offload", docSegOffload},
	"UDP_CSUM": {"the UDP checksum is wrong", "look for corruption on the path or a broken checksum offload", docSegOffload},
	"UNICAST_IN_L2_MULTICAST": {"a unicast IP packet arrived in a link-layer multicast or broadcast frame",
		"fix the sender's neighbour entry for this host; the kernel drops these on purpose (RFC 1122)", docIPSysctl},
	"XDP": {"an XDP program on the receiving device returned XDP_DROP or aborted",
		"check the XDP program attached to the device (ip link show DEV)", ""},
	"IP_INHDR": {"the IP header is invalid, or the TTL ran out while forwarding",
		"for a TTL that ran out, look for a routing loop (traceroute)", ""},
	"IP_NOPROTO": {"nothing on this host handles the packet's IP protocol",
		"load the protocol's module, or stop sending that protocol here", ""},
	"XFRM_POLICY":  {"an IPsec (xfrm) policy refused the packet", "check ip xfrm policy for this traffic", docXfrm},
	"IPV6DISABLED": {"IPv6 is disabled on the receiving device", "enable it (net.ipv6.conf.DEV.disable_ipv6=0) if IPv6 is wanted", docIPSysctl},
	"IP_LOCALNET":  {"a 127/8 address on a device other than lo", "enable net.ipv4.conf.DEV.route_localnet if this is intended", docIPSysctl},
	"TCP_LISTEN_OVERFLOW": {"the listening socket's accept queue was full: the application accepts connections too slowly",
		"accept faster, or raise the listen backlog (and net.core.somaxconn)", docNetSysctl},
	"TCP_ZEROWINDOW": {"data arrived while the receiving socket advertised a zero window: its application is not reading",
		"read faster, or give the socket a larger receive buffer", docIPSysctl},
	"TCP_OFO_QUEUE_PRUNE": {"TCP threw out-of-order data away to stay within the socket's memory",
		"give the socket a larger receive buffer (tcp_rmem), and look for loss that causes reordering", docIPSysctl},
	"TCP_RFC7323_PAWS": {"TCP rejected a segment whose timestamp went backwards (PAWS)",
		"usually a reused connection or a middlebox rewriting timestamps; check net.ipv4.tcp_timestamps on both ends", docIPSysctl},
	"TCP_MINTTL":        {"the segment's TTL was below the socket's IP_MINTTL", "expected when the socket requires a minimum TTL (e.g. BGP's GTSM)", ""},
	"BPF_CGROUP_EGRESS": {"a cgroup BPF program refused the outgoing packet", "list the cgroup's programs (bpftool cgroup tree)", ""},
	"SECURITY_HOOK":     {"a security module (SELinux, AppArmor, ...) refused the packet", "check the security module's audit log", docLSM},
	"TAP_FILTER":        {"the tun/tap device's BPF filter refused the packet", "check the filter set with TUNSETFILTEREBPF", docTunTap},
	"TAP_TXFILTER":      {"the tun/tap device's transmit filter refused the packet", "check the filter set with TUNSETTXFILTER", docTunTap},
	"DEV_READY":         {"the device was down or not ready", "bring the device up (ip link set DEV up)", ""},
	"FULL_RING":         {"the device's ring was full", "read the device faster, or enlarge its ring", ""},
	"NOMEM":             {"the kernel was out of memory", "look at memory pressure on the host", ""},
	"QUEUE_PURGE":       {"a queue was freed as a whole, because its socket or device went away", "not packet loss: routine cleanup", ""},
	"SOCKET_CLOSE":      {"the socket was closed with this packet still queued", "expected when an application closes with unread data", ""},
	"RECURSION_LIMIT": {"the transmit path recursed too deeply: devices stacked in a loop",
		"look for a tunnel or bridge whose traffic comes back to itself", ""},
	"VXLAN_VNI_NOT_FOUND":      {"no VXLAN device has the packet's VNI", "create the VXLAN device for that VNI, or fix the sender's VNI", docVXLAN},
	"BRIDGE_INGRESS_STP_STATE": {"the bridge port is not forwarding (spanning tree blocking, learning or disabled)", "check the port state (bridge link show)", docBridge},
	"CAN_RX_INVALID_FRAME":     {"an invalid CAN frame arrived", "check the sender", docCAN},
	"TCP_AOFAILURE":            {"the TCP-AO signature did not match", "make both ends use the same TCP-AO keys", docTCPAO},
}

// genericFix is the fix of a reason without its own advice.
const genericFix = "see what the kernel objected to at the location shown; the reason's description names it"

// notDrop is the advice of the reasons that are not drops.
var notDrop = advice{cause: "not a drop: the packet was freed normally", fix: "nothing to fix"}
