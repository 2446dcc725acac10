package cli

import "github.com/droptrace/droptrace/pcapfilter"

// ExprHelp is what --help says of the positional filter expression: the
// constructs the compiler supports and how droptrace applies them.
const ExprHelp = `Expression: the arguments after the flags, joined by spaces as tcpdump
joins them, select packets as tcpdump -r would from a capture of the packet
(e.g. droptrace 'tcp port 80 and not net 10.0.0.0/8'). It is ANDed with the
--filter-* flags, and applies in every mode but --tcp (on drops, on the
counted drops of --summary, at a packet's first probe with --trace).
The packet starts at its Ethernet header when the skb still has one in front
of the IP header, else at the IP header: there len, greater and less count
from the IP header, and vlan, arp, rarp and ether[] match nothing.
` + pcapfilter.Help
