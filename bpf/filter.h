/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter.h holds the user's filters as volatile consts, set before load.
 * Each test is guarded by its const, so the verifier removes the code of
 * every filter that was not given.
 */
#ifndef DROPTRACE_FILTER_H
#define DROPTRACE_FILTER_H

#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "event.h"

volatile const __u8 filter_reason_on = 0;
volatile const __u32 filter_netns = 0;
volatile const __u8 filter_ifname_on = 0;
volatile const char filter_ifname[IFNAMSIZ] = {};
volatile const __u8 filter_proto = 0;
volatile const __be16 filter_port = 0;
volatile const __u8 filter_src_family = 0; /* 0 = off, 4 or 6 */
volatile const __u32 filter_src_addr[4] = {};
volatile const __u32 filter_src_mask[4] = {};
volatile const __u8 filter_dst_family = 0;
volatile const __u32 filter_dst_addr[4] = {};
volatile const __u32 filter_dst_mask[4] = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, 256);
} reason_filter SEC(".maps");

static __always_inline bool ifname_matches(const char *name)
{
#pragma unroll
	for (int i = 0; i < IFNAMSIZ; i++) {
		if (name[i] != filter_ifname[i])
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

static __always_inline bool tuple_matches(const struct event *ev)
{
	if (filter_proto && ev->l4proto != filter_proto)
		return false;
	if (filter_port && ev->sport != filter_port && ev->dport != filter_port)
		return false;
	if (filter_src_family &&
	    !addr_matches(ev, ev->saddr, filter_src_family, filter_src_addr, filter_src_mask))
		return false;
	if (filter_dst_family &&
	    !addr_matches(ev, ev->daddr, filter_dst_family, filter_dst_addr, filter_dst_mask))
		return false;
	return true;
}

static __always_inline bool reason_matches(__u32 reason)
{
	return !filter_reason_on || bpf_map_lookup_elem(&reason_filter, &reason);
}

/* tuple_filter_on says whether a filter on the packet's headers was given. */
static __always_inline bool tuple_filter_on(void)
{
	return filter_proto || filter_port || filter_src_family || filter_dst_family;
}

/* place_filter_on says whether a filter on where the skb is was given. */
static __always_inline bool place_filter_on(void)
{
	return filter_netns || filter_ifname_on;
}

/* place_matches checks the filters on where the skb is. */
static __always_inline bool place_matches(const struct event *ev)
{
	if (filter_netns && ev->netns != filter_netns)
		return false;
	if (filter_ifname_on && !ifname_matches(ev->ifname))
		return false;
	return true;
}

#endif
