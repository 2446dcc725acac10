// Package netfilter names the firewall rule behind a NETFILTER_DROP: it
// reads a network namespace's nftables ruleset over netlink (tables,
// chains with their policies and policy counters, rules with their
// counters and comments, sets with their elements), prints rules as
// `iptables -S` (tables iptables-nft manages) or `nft list ruleset`
// prints them, tells DROP from REJECT and the reject type, and
// attributes a drop to a rule, saying how certain it is:
//
//   - exact: the kernel named the rule (event.KernelRule, which the tracer
//     fills where kprobes or fentry work); the ruleset is read only to
//     complete it (text, position, comment, verdict), by its handle.
//   - counter: two reads of the ruleset enclose the drop, and the walk of
//     the chains the packet passed leaves one rule (or policy) that drops
//     it, whose counter moved between them. Rules whose counters did not
//     move are known not to have matched; while conntrack's invalid count
//     (/proc/net/stat/nf_conntrack of the namespace) does not move, "ct
//     state invalid" matched nothing either.
//   - replayed: the walk, on the packet's headers, leaves exactly one rule
//     or policy, without counter evidence (native rules have no counters).
//   - candidates: several remain, all listed.
//
// The hooks walked come from the namespace's addresses: a packet to one
// of them passed prerouting and input, one from them output and
// postrouting, any other prerouting, forward and postrouting. Evaluated:
// payload (IPv4/IPv6 addresses and protocol, ports), meta (l4proto,
// nfproto, iifname where the hook has an input device, mark), cmp,
// bitwise, range, set look-ups (plain and interval sets), ct state, and
// the xt matches tcp, udp, multiport, comment and conntrack/state.
// Everything else (output device, TCP flags, ICMP types, limits, maps,
// concatenations, the conntrack state itself) is unknown: a rule reading
// it is followed both ways, which can only add candidates, never hide
// the right rule. Not read: arp, bridge and netdev tables. The ruleset
// is read by several dumps: a ruleset changed during a read may be seen
// half old, half new.
//
// iptables-legacy (x_tables) tables raw, mangle, filter and security, of
// IPv4 and IPv6, are read too, by getsockopt (IPT_SO_GET_INFO and
// IPT_SO_GET_ENTRIES, IP6T_* alike) on raw sockets, and only those its
// /proc/net/ip_tables_names lists: asking for another would create it.
// The sockets and the names files are opened once per namespace, by a
// thread moved into it; they stay bound to it. Their entries become rules
// of the same model (ipt_ip as the payload, meta and cmp expressions
// iptables-nft would make, the xt matches and targets as its compat
// expressions carry them), so they are walked, counted and printed as
// iptables-nft rules are. x_tables rules have no handle: their Handle is
// their position, and the counter window knows them by a digest of the
// rule.
//
// It runs off the event path, in one goroutine, with bounded work: at
// most one ruleset read per namespace per interval and a global budget of
// reads per second; a drop with no read after it is replayed on the last
// read, without counters, and counted (Stats.ReadsSkipped).
//
// It must never write to netlink: no rule, chain, set or counter of the
// user's ruleset is added, changed, zeroed or reset (only dump requests;
// no NFT_MSG_GETRULE_RESET). Nor to x_tables: getsockopt only, never
// setsockopt (IPT_SO_SET_REPLACE, IPT_SO_SET_ADD_COUNTERS). It must not shell out to iptables or nft,
// format output, or parse flags.
package netfilter
