package pcapcorpus

// Exprs are the expressions, for the traffic of the e2e test
// (e2e/pcapfilter_traffic_test.go): hosts, nets, ports and ranges,
// protocols, and/or/not/parentheses, TCP flags, byte offsets, ICMP types,
// IPv6 and lengths. Each is valid for tcpdump too.
var Exprs = []string{
	// hosts and nets
	"host 10.199.1.9", "src host 192.0.2.7", "dst host 10.199.1.3", "host fd99:1::9",
	"src host 2001:db8::7", "dst host fd99:1::3", "src 10.199.1.1 and dst 10.199.1.2",
	"src or dst host 10.200.3.4", "net 10.199.0.0/16", "src net 192.0.2.0/24", "dst net 10.199.1.0 mask 255.255.255.254",
	"net fd99::/16", "src net fd99:2::/32", "not net 10.0.0.0/8", "ip6 and not src net fd99::/16",
	// ports and ranges
	"port 22", "dst port 80", "src port 443", "tcp port 53", "udp port 53", "port 22 or 80",
	"portrange 8000-8100", "dst portrange 8050-8101", "tcp src portrange 1-1024", "udp dst portrange 100-200",
	"not port 22 and tcp", "port 65535", "port domain",
	// protocols
	"tcp", "udp", "icmp", "icmp6", "ip", "ip6", "ip proto 17", "ip6 proto 58", "proto 6", "ip6 proto 6",
	"ip and udp", "ip6 and tcp", "not ip", "sctp", "igmp",
	// and, or, not, parentheses
	"tcp and (port 22 or port 80)", "(udp or icmp) and host 10.199.1.1", "not (tcp or udp)",
	"tcp and not (src host 10.199.1.1 or dst port 8000)", "host 10.199.1.9 or host fd99:1::9 and tcp",
	"!tcp && !udp", "ip6 || icmp",
	// TCP flags
	"tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
	"tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)", "tcp[tcpflags] & tcp-rst != 0",
	"tcp[tcpflags] & tcp-fin != 0", "tcp[13] == 0x18", "tcp[tcpflags] & (tcp-ece|tcp-cwr) != 0",
	"tcp[tcpflags] & tcp-urg != 0 and tcp[tcpflags] & tcp-push != 0",
	// byte offsets
	"ip[8] < 32", "ip[1] & 0x18 != 0", "ip[0] & 0xf > 5", "ip[2:2] > 600", "tcp[0:2] == 443",
	"udp[2:2] == 123", "ip6[7] > 64", "ip6[6] == 17", "ip[9] == 6 and ip[4:2] > 20",
	"tcp[4:4] == 1000", "tcp[12] & 0xf0 == 0x50", "ip[6:2] & 0x1fff == 0",
	// ICMP types
	"icmp[icmptype] == icmp-echo", "icmp[icmptype] == icmp-echoreply", "icmp[icmptype] != icmp-echo and icmp",
	"icmp[0] == 3", "icmp[icmptype] == icmp-timxceed or icmp[icmptype] == icmp-tstamp",
	"icmp6[icmp6type] == icmp6-echo", "icmp6[0] == 129", "icmp6 and ip6[40] < 128",
	// lengths
	"greater 600", "less 100", "len > 1000", "len <= 74", "len == 62", "greater 200 and udp", "less 80 and ip6",
	"len - 14 > 620", "ip[2:2] + 14 == len",
}
