package pcapfilter

import (
	"fmt"
	"strings"
)

// corpus is the differential test's expressions; l2Only ones need the
// link-layer header, and both tcpdump and Compile must refuse them on raw
// IP.
var corpus = []struct {
	expr   string
	l2Only bool
}{
	{expr: "ip"}, {expr: "ip6"}, {expr: "tcp"}, {expr: "udp"}, {expr: "icmp"}, {expr: "icmp6"},
	{expr: "sctp"}, {expr: "igmp"},
	{expr: "host 10.0.0.1"}, {expr: "src host 10.0.0.1"}, {expr: "dst host 10.0.0.2"},
	{expr: "host 2001:db8::1"}, {expr: "ip6 host fe80::1"}, {expr: "ip host 192.168.1.5"},
	{expr: "src host 10.0.0.1 or dst host 192.168.1.5"}, {expr: "src and dst host 10.0.0.1"},
	{expr: "src or dst host 10.0.0.2"}, {expr: "src 10.0.0.1"},
	{expr: "host 10.0.0.1 or host 2001:db8::2"}, {expr: "host ::1 or 10.0.0.2"},
	{expr: "net 10.0.0.0/8"}, {expr: "net 10.0.0.0 mask 255.255.255.0"}, {expr: "src net 192.168.0.0/16"},
	{expr: "dst net 172.16.0.0/12"}, {expr: "net 2001:db8::/32"}, {expr: "ip6 net 2001:db8:1::/48"},
	{expr: "net 0.0.0.0/0"}, {expr: "net 10.0.0.2"},
	{expr: "port 80"}, {expr: "tcp port 80"}, {expr: "udp port 53"}, {expr: "src port 12345"},
	{expr: "dst port 443"}, {expr: "port 80 or 443"}, {expr: "tcp port 80 or 443"}, {expr: "port http"}, {expr: "port domain"}, {expr: "port ntp"}, {expr: "tcp port https"},
	{expr: "sctp port 80"}, {expr: "src and dst port 80"},
	{expr: "portrange 8000-8100"}, {expr: "tcp portrange 1-1024"}, {expr: "udp dst portrange 5000-9000"},
	{expr: "src portrange 8000-8100"}, {expr: "portrange 9000-8000"},
	{expr: "tcp and port 80"}, {expr: "udp and not port 53"}, {expr: "not tcp"}, {expr: "not (tcp or udp)"},
	{expr: "host 10.0.0.1 and (port 80 or port 53)"}, {expr: "host 10.0.0.1 and not port 80"},
	{expr: "net 10.0.0.0/8 and not port 22"}, {expr: "tcp or udp and host 10.0.0.2"},
	{expr: "not ip6 and not icmp"}, {expr: "!tcp && !udp"}, {expr: "tcp || icmp"},
	{expr: "port 80 and not (src host 10.0.0.1)"}, {expr: "tcp dst port 80 and src 10.0.0.1"},
	{expr: "not host 10.0.0.1 and not host 2001:db8::1"}, {expr: "ip6 and tcp port 80"},
	{expr: "udp port 53 or icmp6"},
	{expr: "tcp[13] == 2"}, {expr: "tcp[13] & 2 != 0"}, {expr: "(tcp[13] & 2 != 0)"},
	{expr: "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"},
	{expr: "tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)"},
	{expr: "tcp[tcpflags] & tcp-rst != 0"}, {expr: "tcp[tcpflags] & (tcp-fin|tcp-rst) != 0"},
	{expr: "ip and tcp[13] & 18 == 18"}, {expr: "tcp[0:2] == 80"}, {expr: "tcp[2:2] > 1024"},
	{expr: "udp[2:2] == 53"}, {expr: "udp[4:2] > 100"}, {expr: "ip[9] == 17"}, {expr: "ip[0] & 0xf > 5"},
	{expr: "ip[6:2] & 0x1fff != 0"}, {expr: "ip[2:2] > 500"}, {expr: "ip6[6] == 0"}, {expr: "ip6[4:2] > 20"},
	{expr: "icmp[icmptype] == icmp-echo"},
	{expr: "icmp[icmptype] != icmp-echo and icmp[icmptype] != icmp-echoreply"},
	{expr: "icmp[0] == 3"}, {expr: "icmp6[icmp6type] == icmp6-echo"}, {expr: "icmp6[0] == 135"},
	{expr: "ip[ip[0] & 0x0f] == 0"}, {expr: "ip[2:2] - tcp[12] != 0"}, {expr: "tcp[12] - ip[2:2] != 0"}, {expr: "udp[4:2] == ip[2:2] - 20"}, {expr: "tcp[tcp[12] >> 4] != 255"},
	{expr: "(ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2) != 0"},
	{expr: "len >= 100"}, {expr: "len > 100 and tcp"}, {expr: "len <= 80"}, {expr: "greater 200"},
	{expr: "less 100"}, {expr: "len - 14 > 100"}, {expr: "len * 2 > 1000"}, {expr: "len % 7 == 3"},
	{expr: "ip proto 17"}, {expr: "ip proto \\tcp"}, {expr: "ip6 proto 58"}, {expr: "ip6 proto 6"},
	{expr: "ip6 proto 17"}, {expr: "proto 6"},
	{expr: "vlan", l2Only: true}, {expr: "vlan 100", l2Only: true}, {expr: "vlan and tcp", l2Only: true},
	{expr: "vlan 100 and host 10.0.0.1", l2Only: true}, {expr: "vlan 200 and udp", l2Only: true},
	{expr: "not vlan", l2Only: true}, {expr: "vlan and vlan 100", l2Only: true},
	{expr: "vlan 100 and port 80", l2Only: true}, {expr: "tcp or vlan and tcp", l2Only: true},
	{expr: "arp", l2Only: true}, {expr: "arp host 10.0.0.2", l2Only: true}, {expr: "rarp", l2Only: true},
	{expr: "arp[6:2] == 1", l2Only: true}, {expr: "not arp and host 10.0.0.1", l2Only: true},
	{expr: "sctp[0:2] == 3868"}, {expr: "igmp[0] == 0x11"}, {expr: "ip6 and not ip6 proto 58"},
	{expr: "udp port 53 and not src net 2001:db8::/64"}, {expr: "port 80 and not 443"},
	{expr: "ether[0] & 1 != 0", l2Only: true}, {expr: "ether[12:2] == 0x800", l2Only: true},
	// Long enough that conditional jumps need long-jump trampolines.
	{expr: longExpr(40, "(", " or ", ") and tcp", "port %d")},
	{expr: longExpr(30, "not (", " or ", ")", "host 10.0.%d.1")},
}

func longExpr(n int, open, sep, close, format string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(format, 60+i)
	}
	parts[n-1] = fmt.Sprintf(format, 80)
	return open + strings.Join(parts, sep) + close
}
