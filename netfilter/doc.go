// Package netfilter names the firewall rule behind a NETFILTER_DROP: it
// reads a network namespace's nftables ruleset over netlink (tables,
// chains, rules with their counters, sets), prints rules as `iptables -S`
// or `nft list ruleset` would, tells DROP from REJECT, and attributes a
// drop to a rule by counter deltas or by replaying the rules on the
// packet's headers, saying how certain it is.
//
// iptables-nft rules are nftables rules (xt match and target expressions
// plus native payload and meta matches), so one netlink reader serves both.
// iptables-legacy rules are not read.
//
// It runs off the event path, in one worker goroutine, with bounded work:
// at most one ruleset read per namespace per interval and a global budget
// per second; what it skips is counted.
//
// It must never write to netlink: no rule, chain, set or counter of the
// user's ruleset is added, changed, zeroed or reset (no NLM_F_* create
// flags, no NFT_MSG_GETRULE_RESET). It must not shell out to iptables or
// nft, format output, or parse flags.
package netfilter
