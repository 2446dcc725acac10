/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter.h holds the user's filters, set before load, and their tests.
 * The filters are one volatile const struct, which bpf2go exports as a Go
 * type (-type filter_cfg), so the loader fills it field by field and a
 * renamed or removed field fails to compile. The verifier sees every field
 * as a constant and removes the code of each filter that was not given.
 *
 * A filter is a field of filter_cfg and a clause of place_matches or
 * tuple_matches (with its term in place_filter_on or tuple_filter_on);
 * match() in skb.h is the one order in which every program applies them.
 * The pcap-filter expression is the exception: compiled in user space and
 * injected at load into the stubs of pcap.h, and switched on by pcap_on.
 */
#ifndef DROPTRACE_FILTER_H
#define DROPTRACE_FILTER_H

#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "event.h"

/* filter_cfg is every filter; a zero field is a filter not given.
 * Addresses, masks and the port are in network byte order. */
struct filter_cfg {
	__u32 netns;	       /* namespace inode */
	__u32 src_addr[4];
	__u32 src_mask[4];
	__u32 dst_addr[4];
	__u32 dst_mask[4];
	char ifname[IFNAMSIZ]; /* with ifname_on */
	__be16 port;	       /* source or destination */
	__u8 reason_on;	       /* the reasons are the keys of reason_filter */
	/* the reasons left out are the keys of reason_exclude */
	__u8 reason_exclude_on;
	__u8 ifname_on;
	__u8 proto;
	__u8 src_family; /* 4 or 6 */
	__u8 dst_family;
	__u8 pcap_on; /* a pcap-filter expression was injected (pcap.h) */
};

volatile const struct filter_cfg filters = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, 256);
} reason_filter SEC(".maps");

/* reason_exclude holds the reasons --exclude-reason leaves out: a hit
 * returns before anything is read, copied or counted. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, 256);
} reason_exclude SEC(".maps");

static __always_inline bool ifname_matches(const char *name)
{
#pragma unroll
	for (int i = 0; i < IFNAMSIZ; i++) {
		if (name[i] != filters.ifname[i])
			return false;
		if (name[i] == 0)
			return true;
	}
	return true;
}

static __always_inline bool addr_matches(const struct event *ev, const __u32 *addr,
					 __u8 family, const volatile __u32 *want,
					 const volatile __u32 *mask)
{
	if (ev->family != family)
		return false;
	if (family == 4)
		return (addr[0] & mask[0]) == want[0];
#pragma unroll
	for (int i = 0; i < 4; i++)
		if ((addr[i] & mask[i]) != want[i])
			return false;
	return true;
}

/* reason_matches checks the filters on what the drop tracepoint passes
 * rather than on the skb, the reasons wanted and the reasons left out:
 * the drop programs apply them before reading anything. */
static __always_inline bool reason_matches(__u32 reason)
{
	if (filters.reason_on && !bpf_map_lookup_elem(&reason_filter, &reason))
		return false;
	if (filters.reason_exclude_on && bpf_map_lookup_elem(&reason_exclude, &reason))
		return false;
	return true;
}

/* place_filter_on says whether a filter on where the skb is was given. */
static __always_inline bool place_filter_on(void)
{
	return filters.netns || filters.ifname_on;
}

/* place_matches checks the filters on where the skb is: ev's netns,
 * ifindex and ifname. */
static __always_inline bool place_matches(const struct event *ev)
{
	if (filters.netns && ev->netns != filters.netns)
		return false;
	if (filters.ifname_on && !ifname_matches(ev->ifname))
		return false;
	return true;
}

/* tuple_filter_on says whether a filter on the packet's headers was given. */
static __always_inline bool tuple_filter_on(void)
{
	return filters.proto || filters.port || filters.src_family || filters.dst_family;
}

/* proto_matches and port_matches are the filters on the transport
 * protocol and port, for tuple_matches and quick_reject (skb.h). */
static __always_inline bool proto_matches(__u8 l4proto)
{
	return !filters.proto || l4proto == filters.proto;
}

static __always_inline bool port_matches(__be16 sport, __be16 dport)
{
	__be16 port = filters.port; /* one load, not three */

	return !port || sport == port || dport == port;
}

/* tuple_matches checks the filters on the packet's headers: ev's family,
 * addresses, l4proto and ports. */
static __always_inline bool tuple_matches(const struct event *ev)
{
	if (!proto_matches(ev->l4proto))
		return false;
	if (!port_matches(ev->sport, ev->dport))
		return false;
	if (filters.src_family &&
	    !addr_matches(ev, ev->saddr, filters.src_family, filters.src_addr, filters.src_mask))
		return false;
	if (filters.dst_family &&
	    !addr_matches(ev, ev->daddr, filters.dst_family, filters.dst_addr, filters.dst_mask))
		return false;
	return true;
}

#endif
