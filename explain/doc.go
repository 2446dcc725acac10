// Package explain says why each drop happened (--explain): a cause in
// plain words, the evidence read live from the system for the drop at
// hand, and a fix, as an event.Explain on the event.
//
//   - Describe and WriteList give every drop reason a one-line description
//     (--list-reasons); a unit test fails when the running kernel has a
//     reason without one.
//   - Static gives the cause and fix of a reason at a location with no
//     look-up (e.g. for --summary rows). Drops without a reason
//     (NOT_SPECIFIED) are explained by the function they happened in,
//     matched by symbol name so that it holds across kernel versions
//     (ip_error: a reject route or none; __dev_forward_skb2: the veth
//     peer's MTU; ...).
//   - Explainer.Annotate adds the evidence: sockets on the port and their
//     owners, a socket's memory (sock_diag with SKMEMINFO, as ss -m), the
//     route lookup, rp_filter, MTUs, qdiscs and their counters, the
//     neighbour entry, reassembly limits; all read in the drop's own
//     network namespace. NETFILTER_DROP takes the rule the netfilter
//     annotator found, through Config.Netfilter.
//   - Routine says which frees are routine rather than packet loss, to be
//     hidden by default (--exclude-reason is a filter, in filter/).
//
// Look-ups run off the event path, in the annotation worker: one per key
// (what the answer depends on) per Interval, at most PerSecond in all,
// with short netlink timeouts; what is skipped or fails is counted in
// Stats.
//
// It must not shell out (ss, ip, tc, sysctl), change anything on the
// system, move any thread but its own short-lived one into another
// namespace, or format output.
package explain
