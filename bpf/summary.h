/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * summary.h counts drops in the kernel for --summary (dropwatch mode): one
 * per-CPU counter per {reason, location, netns, ifindex, protocol}, and no
 * event per drop to user space. It reads only what the key and the
 * filters given need, so it is the cheapest way to watch every drop.
 */
#ifndef DROPTRACE_SUMMARY_H
#define DROPTRACE_SUMMARY_H

#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "event.h"
#include "filter.h"
#include "skb.h"

#define E2BIG 7
#define EEXIST 17
#define BPF_NOEXIST 1

/* Set by user space before load: count into summary instead of sending events. */
volatile const __u8 cfg_summary = 0;

/* summary_key is what a drop is counted by. */
struct summary_key {
	__u64 location;
	__u32 reason;
	__u32 netns;
	__u32 ifindex;
	__u8 l4proto;
	__u8 pad[3];
};

/* dev_key names a device for ifnames. */
struct dev_key {
	__u32 netns;
	__u32 ifindex;
};

/* max_entries of both maps are set by user space before load (--summary
 * bounds them; other modes shrink them to one entry). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, struct summary_key);
	__type(value, __u64);
	__uint(max_entries, 16384);
} summary SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct dev_key);
	__type(value, char[IFNAMSIZ]);
	__uint(max_entries, 4096);
} ifnames SEC(".maps");

/* l4proto_of reads only the IP protocol: one read for IPv4 and for IPv6
 * without extension headers, the full parse otherwise. */
static __always_inline __u8 l4proto_of(struct sk_buff *skb, struct event *ev, bool direct)
{
	struct headers h;
	__u8 ip[10];

	locate(skb, &h, direct);
	if (!h.nh_ok || bpf_probe_read_kernel(ip, sizeof(ip), h.head + h.nh))
		return 0;
	if (ip[0] >> 4 == 4)
		return ip[9];
	if (ip[0] >> 4 != 6)
		return 0;
	if (!is_ipv6_ext(ip[6]))
		return ip[6];
	ev->l4proto = 0;
	parse_ipv6(ev, h.head + h.nh);
	return ev->l4proto;
}

/* read_place fills netns and ifindex, and the name only when a filter
 * needs it: the name is read once per device, when its first drop is
 * counted (remember_ifname). */
static __always_inline struct net_device *read_place(struct sk_buff *skb, struct event *ev,
						      bool direct)
{
	return read_dev_opt(skb, ev, direct, filter_ifname_on);
}

static __always_inline void remember_ifname(struct net_device *dev, struct summary_key *key)
{
	struct dev_key dk = {.netns = key->netns, .ifindex = key->ifindex};
	char name[IFNAMSIZ] = {};

	if (!dev || bpf_map_lookup_elem(&ifnames, &dk))
		return;
	bpf_probe_read_kernel_str(name, IFNAMSIZ, dev->name);
	bpf_map_update_elem(&ifnames, &dk, name, BPF_NOEXIST);
}

/* add_drop counts one drop under key. The first drop of a key inserts it;
 * when the map is full it returns the error (E2BIG) and counts nothing. */
static __always_inline long add_drop(struct summary_key *key, struct net_device *dev)
{
	__u64 one = 1;
	__u64 *v;
	long err;

	v = bpf_map_lookup_elem(&summary, key);
	if (v) {
		*v += 1;
		return 0;
	}
	err = bpf_map_update_elem(&summary, key, &one, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* Another CPU inserted it first; this CPU's slot is still ours. */
		v = bpf_map_lookup_elem(&summary, key);
		if (v)
			*v += 1;
		return 0;
	}
	if (!err)
		remember_ifname(dev, key);
	return err;
}

/* summarize_drop counts a drop that passes the filters; it returns the
 * error of a full map, 0 otherwise. */
static __always_inline long summarize_drop(struct sk_buff *skb, __u64 location, __u32 reason,
					   bool direct)
{
	struct summary_key key = {};
	struct net_device *dev;
	struct event ev;

	if (!reason_matches(reason))
		return 0;
	dev = read_place(skb, &ev, direct);
	if (!place_matches(&ev))
		return 0;
	if (tuple_filter_on()) {
		struct headers h;

		parse_skb(skb, &ev, &h, direct);
		if (!tuple_matches(&ev))
			return 0;
		key.l4proto = ev.l4proto;
	} else {
		key.l4proto = l4proto_of(skb, &ev, direct);
	}
	key.location = location;
	key.reason = reason;
	key.netns = ev.netns;
	key.ifindex = ev.ifindex;
	return add_drop(&key, dev);
}

#endif
