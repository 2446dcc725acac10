// Package nftrace switches on the kernel's nftables trace static key
// (nft_trace_enabled), without which nft_do_chain never calls
// __nft_trace_packet, the function where the kernel names the rule
// behind a verdict (bpf/nftrace.h). The key counts the `meta nftrace set`
// expressions that exist anywhere on the machine; Enable creates one:
// in a network namespace of droptrace's own (unshared on a locked OS
// thread, held by a file descriptor, never mounted under /run/netns,
// never in a new user namespace), a table with one chain without a hook
// holding one rule, `meta nftrace set 1`. No packet passes that chain;
// the key is global, so every nft_do_chain of the machine calls the
// trace function from then on, which returns at once unless a packet has
// nftrace set. Close deletes the table and lets the namespace go, which
// turns the key back off (unless something else holds it).
//
// It must not touch any other namespace's ruleset, or anything but its
// own table.
package nftrace
