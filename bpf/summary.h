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
#include "maps.h"
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

/* remember_ifname stores the name of the device a key's drop was on, the
 * first time a drop of that device is counted. */
static __always_inline void remember_ifname(struct sk_buff *skb, struct summary_key *key,
					    bool direct)
{
	struct dev_key dk = {.netns = key->netns, .ifindex = key->ifindex};
	char name[IFNAMSIZ] = {};
	struct net_device *dev;

	if (!key->ifindex || bpf_map_lookup_elem(&ifnames, &dk))
		return;
	dev = RD(direct, skb, dev);
	if (!dev)
		return;
	read_ifname(name, dev, direct);
	bpf_map_update_elem(&ifnames, &dk, name, BPF_NOEXIST);
}

/* summary_pending is, per CPU, the key of the last drop counted and how
 * many drops of it are not in the summary map yet. Drops come in runs of
 * alike ones (a storm, a rule that drops a flow), and a run then costs a
 * comparison per drop instead of a hash lookup. User space adds count to
 * the map's; a run ends in the map when a drop of another key comes. */
struct summary_pending {
	struct summary_key key;
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct summary_pending);
	__uint(max_entries, 1);
} summary_last SEC(".maps");

static __always_inline bool same_key(const struct summary_key *a, const struct summary_key *b)
{
	const __u64 *x = (const __u64 *)a;
	const __u64 *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2];
}

/* add_to_map counts n drops under key. The first drop of a key inserts it;
 * when the map is full it returns the error (E2BIG) and counts nothing. */
static __always_inline long add_to_map(struct summary_key *key, __u64 n)
{
	__u64 *v;
	long err;

	v = bpf_map_lookup_elem(&summary, key);
	if (v) {
		*v += n;
		return 0;
	}
	err = bpf_map_update_elem(&summary, key, &n, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* Another CPU inserted it first; this CPU's slot is still ours. */
		v = bpf_map_lookup_elem(&summary, key);
		if (v)
			*v += n;
		return 0;
	}
	return err;
}

/* add_drop counts one drop under key, in summary_last while the run of
 * its key lasts. A run's key is put in the map at its first drop, so the
 * runs user space adds are always of keys the map holds, and a full map is
 * known at once: that drop is counted as overflow and starts no run. */
static __always_inline void add_drop(struct summary_key *key, struct sk_buff *skb, bool direct)
{
	struct summary_pending *p;
	__u32 zero = 0;
	bool same_dev;

	p = bpf_map_lookup_elem(&summary_last, &zero);
	if (!p) {
		if (add_to_map(key, 1))
			count(STAT_SUMMARY_OVERFLOW);
		return;
	}
	if (p->count && same_key(&p->key, key)) {
		p->count++;
		return;
	}
	same_dev = p->count && p->key.netns == key->netns && p->key.ifindex == key->ifindex;
	if (p->count)
		add_to_map(&p->key, p->count); /* in the map since its run began */
	p->count = 0;
	if (add_to_map(key, 0)) {
		count(STAT_SUMMARY_OVERFLOW);
		return;
	}
	p->key = *key;
	p->count = 1;
	if (!same_dev)
		remember_ifname(skb, key, direct);
}

/* summarize_drop counts a drop that passes the filters (the reason filter
 * was applied by the caller). */
static __always_inline void summarize_drop(struct sk_buff *skb, __u64 location, __u32 reason,
					   bool direct)
{
	struct summary_key key = {};
	struct headers h;
	struct event ev;

	if (!match(skb, &ev, &h, direct, true, READ_KEY))
		return;
	key.location = location;
	key.reason = reason;
	key.netns = ev.netns;
	key.ifindex = ev.ifindex;
	key.l4proto = ev.l4proto;
	add_drop(&key, skb, direct);
}

#endif
