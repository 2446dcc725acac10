package pcapfilter

// IP protocol numbers the expression language names.
const (
	protoICMP   = 1
	protoIGMP   = 2
	protoTCP    = 6
	protoUDP    = 17
	protoFrag6  = 44
	protoICMPv6 = 58
	protoSCTP   = 132
)

// ipProtoNames are the protocol names "proto" accepts, with or without a
// backslash (tcpdump needs "ip proto \tcp" because tcp is a keyword).
var ipProtoNames = map[string]uint8{
	"icmp": protoICMP, "igmp": protoIGMP, "tcp": protoTCP, "udp": protoUDP,
	"icmp6": protoICMPv6, "sctp": protoSCTP,
}

// abbrevs are the protocol keywords that stand alone ("tcp", "icmp6") and
// the IP family libpcap tests them in.
var abbrevs = map[string]struct {
	fam   family
	proto uint8
}{
	"tcp":   {famAny, protoTCP},
	"udp":   {famAny, protoUDP},
	"sctp":  {famAny, protoSCTP},
	"icmp":  {famV4, protoICMP},
	"igmp":  {famV4, protoIGMP},
	"icmp6": {famV6, protoICMPv6},
}

// namedConsts are pcap-filter's names for header offsets and values.
var namedConsts = map[string]uint32{
	"tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04,
	"tcp-push": 0x08, "tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40,
	"tcp-cwr":  0x80,
	"icmptype": 0, "icmpcode": 1,
	"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4,
	"icmp-redirect": 5, "icmp-echo": 8, "icmp-routeradvert": 9,
	"icmp-routersolicit": 10, "icmp-timxceed": 11, "icmp-paramprob": 12,
	"icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
	"icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
	"icmp6type": 0, "icmp6code": 1,
	"icmp6-destinationunreach": 1, "icmp6-packettoobig": 2,
	"icmp6-timeexceeded": 3, "icmp6-parameterproblem": 4,
	"icmp6-echo": 128, "icmp6-echoreply": 129,
	"icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
	"icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133,
	"icmp6-routeradvert": 134, "icmp6-neighborsolicit": 135,
	"icmp6-neighboradvert": 136, "icmp6-redirect": 137,
}

// services are the names accepted after "port", fixed here rather than
// read from /etc/services so a filter means the same on every machine; the
// protocols are those Debian's /etc/services lists. A name defined for both
// TCP and UDP applies to TCP, UDP and SCTP, as in libpcap.
var services = map[string]struct {
	port     uint16
	tcp, udp bool
}{
	"ftp-data": {20, true, false}, "ftp": {21, true, false}, "ssh": {22, true, false},
	"telnet": {23, true, false}, "smtp": {25, true, false}, "domain": {53, true, true},
	"http": {80, true, false}, "www": {80, true, false}, "pop3": {110, true, false},
	"ntp": {123, false, true}, "imap": {143, true, false}, "imap2": {143, true, false},
	"snmp": {161, true, true}, "bgp": {179, true, false}, "ldap": {389, true, true},
	"https": {443, true, true}, "imaps": {993, true, false}, "pop3s": {995, true, false},
	"mysql": {3306, true, false}, "postgresql": {5432, true, false},
}

// unsupported are pcap-filter keywords this compiler refuses, so that a
// filter never silently means something else.
var unsupported = map[string]string{
	"gateway": "gateway needs host name resolution", "protochain": "protochain is not supported",
	"broadcast": "broadcast is not supported", "multicast": "multicast is not supported",
	"ether": "ether is only supported as ether[...]", "fddi": "fddi is not supported",
	"tr": "tr is not supported", "wlan": "wlan is not supported", "decnet": "decnet is not supported",
	"atalk": "atalk is not supported", "aarp": "aarp is not supported", "iso": "iso is not supported",
	"stp": "stp is not supported", "ipx": "ipx is not supported", "netbeui": "netbeui is not supported",
	"llc": "llc is not supported", "mpls": "mpls is not supported", "pppoed": "pppoed is not supported",
	"pppoes": "pppoes is not supported", "geneve": "geneve is not supported", "vxlan": "vxlan is not supported",
	"inbound": "inbound is not supported", "outbound": "outbound is not supported",
	"ifname": "ifname is not supported", "on": "on is not supported", "rulenum": "rulenum is not supported",
	"type": "type is not supported", "subtype": "subtype is not supported", "dir": "dir is not supported",
	"ah": "ah is not supported", "esp": "esp is not supported", "pim": "pim is not supported",
	"vrrp": "vrrp is not supported", "carp": "carp is not supported", "igrp": "igrp is not supported",
	"lat": "lat is not supported", "sca": "sca is not supported", "moprc": "moprc is not supported",
	"mopdl": "mopdl is not supported", "iso8473": "iso8473 is not supported", "clnp": "clnp is not supported",
	"esis": "esis is not supported", "isis": "isis is not supported", "ra": "ra is not supported",
	"ta": "ta is not supported", "addr1": "addr1 is not supported", "addr2": "addr2 is not supported",
	"addr3": "addr3 is not supported", "addr4": "addr4 is not supported", "hdr": "hdr is not supported",
	"reason": "reason is not supported", "rset": "rset is not supported", "srnr": "srnr is not supported",
	"action": "action is not supported", "ip6protochain": "protochain is not supported",
}
