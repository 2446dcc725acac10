package pcapfilter

// Help says which pcap-filter constructs Compile accepts, for --help and
// the README.
const Help = `Filter expression (pcap-filter(7) syntax, as tcpdump; no host name resolution):
  ip, ip6, tcp, udp, sctp, icmp, icmp6, igmp, arp, rarp
  [src|dst|src or dst|src and dst] host ADDR      (IPv4 or IPv6 address)
  [src|dst] net ADDR/LEN, net ADDR mask MASK
  [tcp|udp|sctp] [src|dst] port N|NAME, portrange N-M
  ip proto N, ip6 proto N, proto N                (N may be tcp, udp, icmp...)
  vlan [ID]
  less N, greater N, len
  EXPR RELOP EXPR with + - * / % & | ^ << >>, e.g. tcp[tcpflags] & tcp-syn != 0,
    icmp[icmptype] == icmp-echo, ip[6:2] & 0x1fff != 0
    (proto[off] or proto[off:size] for ether, ip, ip6, arp, rarp, tcp, udp,
    sctp, icmp, igmp, icmp6; tcpflags, tcp-syn..., icmptype, icmp-echo...,
    icmp6type, icmp6-echo... are named constants)
  not, and, or, !, &&, ||, parentheses
  Not supported: ether host/src/dst/proto, broadcast, multicast, gateway,
  protochain, mpls, pppoe, geneve, vxlan, llc, wlan and other link types,
  inbound/outbound, ifname, abbreviated networks (net 10).
  vlan, arp, rarp and ether[] need the link-layer header.`
