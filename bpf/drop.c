//go:build ignore
// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

/*
 * drop.c reports packets freed through skb:kfree_skb, i.e. dropped, after
 * filtering them in the kernel. Every filter is a volatile const that user
 * space sets before loading: the verifier sees its value and removes the
 * code of filters that were not given, so they cost nothing.
 */

#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "event.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Referenced so their BTF reaches bpf2go, which generates Go constants. */
const enum event_kind *unused_event_kind __attribute__((unused));
const enum link_kind *unused_link_kind __attribute__((unused));
const enum stat_index *unused_stat_index __attribute__((unused));

#define HDR_UNSET ((__u16)~0U)
#define IPPROTO_HOPOPTS 0
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_ICMPV6 58
#define IPPROTO_DSTOPTS 60
#define IPPROTO_SCTP 132
#define IPPROTO_UDPLITE 136
#define IP_OFFSET_MASK 0x1fff
#define IPV6_MAX_EXT_HDRS 4

/* Set by user space before load. */
volatile const __u8 cfg_tp_has_reason = 1; /* tp_btf/kfree_skb carries a reason (5.17+) */
volatile const __u32 cfg_snaplen = 0;      /* packet bytes to copy, 0 = none */

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

struct event_buf {
	struct event ev;
	__u8 data[MAX_SNAPLEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 23);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct event_buf);
	__uint(max_entries, 1);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, STAT_MAX);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, 256);
} reason_filter SEC(".maps");

/* RD reads a field directly where the pointer is BTF-typed (tp_btf), which
 * costs one load, and through bpf_probe_read_kernel otherwise. */
#define RD(direct, ptr, field) ((direct) ? (ptr)->field : BPF_CORE_READ(ptr, field))

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

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

static __always_inline bool has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ||
	       proto == IPPROTO_UDPLITE;
}

/* read_ports fills the ports of a TCP/UDP-like header at l4. */
static __always_inline void read_ports(struct event *ev, unsigned char *l4)
{
	__be16 ports[2];

	if (!has_ports(ev->l4proto) || bpf_probe_read_kernel(ports, sizeof(ports), l4))
		return;
	ev->sport = ports[0];
	ev->dport = ports[1];
}

static __always_inline void parse_ipv4(struct event *ev, unsigned char *nh)
{
	struct iphdr ip;

	if (bpf_probe_read_kernel(&ip, sizeof(ip), nh) || ip.version != 4 || ip.ihl < 5)
		return;
	ev->family = 4;
	ev->l4proto = ip.protocol;
	ev->saddr[0] = ip.saddr;
	ev->daddr[0] = ip.daddr;
	/* Only the first fragment carries the transport header. */
	if (!(ip.frag_off & bpf_htons(IP_OFFSET_MASK)))
		read_ports(ev, nh + ip.ihl * 4);
}

static __always_inline bool is_ipv6_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_FRAGMENT;
}

static __always_inline void parse_ipv6(struct event *ev, unsigned char *nh)
{
	struct ipv6hdr ip;
	__u32 off = sizeof(ip);
	__u8 ext[8];

	if (bpf_probe_read_kernel(&ip, sizeof(ip), nh) || ip.version != 6)
		return;
	ev->family = 6;
	__builtin_memcpy(ev->saddr, ip.saddr, 16);
	__builtin_memcpy(ev->daddr, ip.daddr, 16);
	ev->l4proto = ip.nexthdr;
#pragma unroll
	for (int i = 0; i < IPV6_MAX_EXT_HDRS; i++) {
		if (!is_ipv6_ext(ev->l4proto))
			break;
		if (bpf_probe_read_kernel(ext, sizeof(ext), nh + off))
			return;
		if (ev->l4proto == IPPROTO_FRAGMENT) {
			ev->l4proto = ext[0];
			if ((ext[2] << 5 | ext[3] >> 3) != 0)
				return; /* not the first fragment: no ports */
			off += 8;
		} else {
			ev->l4proto = ext[0];
			off += (ext[1] + 1) * 8;
		}
	}
	read_ports(ev, nh + off);
}

/* headers locates the network header and the start of the captured bytes.
 * network_header is unset (~0) or, on a fresh skb that never had one, 0
 * with no mac header either: then there is nothing to parse. */
struct headers {
	unsigned char *head;
	unsigned char *data;
	__u16 nh;
	__u16 mh;
	bool nh_ok;
	bool eth;
};

static __always_inline void locate(struct sk_buff *skb, struct headers *h, bool direct)
{
	h->head = RD(direct, skb, head);
	h->data = RD(direct, skb, data);
	h->nh = RD(direct, skb, network_header);
	h->mh = RD(direct, skb, mac_header);
	h->nh_ok = h->nh != HDR_UNSET && !(h->nh == 0 && h->mh == HDR_UNSET);
	h->eth = h->nh_ok && h->mh != HDR_UNSET && h->nh - h->mh == ETH_HLEN;
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

static __always_inline struct net_device *read_dev(struct sk_buff *skb, struct event *ev,
						    bool direct)
{
	struct net_device *dev = RD(direct, skb, dev);
	struct net *net = 0;

	ev->ifindex = 0;
	ev->netns = 0;
	ev->ifname[0] = 0;
	if (dev) {
		ev->ifindex = RD(direct, dev, ifindex);
		bpf_probe_read_kernel_str(ev->ifname, IFNAMSIZ, dev->name);
		net = RD(direct, dev, nd_net.net);
	} else {
		struct sock *sk = RD(direct, skb, sk);

		if (sk)
			net = RD(direct, sk, __sk_common.skc_net.net);
	}
	if (net)
		ev->netns = RD(direct, net, ns.inum);
	return dev;
}

/* capture copies up to cfg_snaplen bytes of the linear data from the
 * Ethernet header when there is one, else from the IP header. */
static __always_inline __u32 capture(struct event_buf *buf, struct sk_buff *skb,
				     struct headers *h, bool direct)
{
	struct event *ev = &buf->ev;
	unsigned char *start;
	unsigned char *end;
	__u64 cap;
	__u32 len;

	ev->link = LINK_NONE;
	ev->orig_len = 0;
	if (!cfg_snaplen || !h->nh_ok)
		return 0;
	start = h->head + (h->eth ? h->mh : h->nh);
	len = RD(direct, skb, len);
	end = h->data + len - RD(direct, skb, data_len);
	if (end <= start)
		return 0;
	/* 64-bit unsigned, so the verifier sees a bound in [0, MAX_SNAPLEN]. */
	cap = (__u64)(end - start);
	if (cap > cfg_snaplen)
		cap = cfg_snaplen;
	if (cap > MAX_SNAPLEN)
		cap = MAX_SNAPLEN;
	if (bpf_probe_read_kernel(buf->data, cap, start))
		return 0;
	ev->link = h->eth ? LINK_ETHERNET : LINK_RAW_IP;
	ev->orig_len = len + (h->data - start);
	return cap;
}

static __always_inline int handle_drop(struct sk_buff *skb, __u64 location, __u32 reason,
				       bool direct)
{
	struct event_buf *buf;
	struct event *ev;
	struct headers h;
	__u32 zero = 0;
	__u32 cap;

	if (filter_reason_on && !bpf_map_lookup_elem(&reason_filter, &reason))
		return 0;
	buf = bpf_map_lookup_elem(&scratch, &zero);
	if (!buf)
		return 0;
	ev = &buf->ev;
	read_dev(skb, ev, direct);
	if (filter_netns && ev->netns != filter_netns)
		return 0;
	if (filter_ifname_on && !ifname_matches(ev->ifname))
		return 0;

	locate(skb, &h, direct);
	ev->family = 0;
	ev->l4proto = 0;
	ev->sport = 0;
	ev->dport = 0;
	__builtin_memset(ev->saddr, 0, sizeof(ev->saddr));
	__builtin_memset(ev->daddr, 0, sizeof(ev->daddr));
	ev->protocol = RD(direct, skb, protocol);
	if (h.nh_ok) {
		unsigned char *nh = h.head + h.nh;
		__u8 first;

		if (!bpf_probe_read_kernel(&first, 1, nh)) {
			if (first >> 4 == 4)
				parse_ipv4(ev, nh);
			else if (first >> 4 == 6)
				parse_ipv6(ev, nh);
		}
	}
	if (!tuple_matches(ev))
		return 0;

	ev->kind = EVENT_DROP;
	ev->ts = bpf_ktime_get_ns();
	ev->skb = (__u64)skb;
	ev->location = location;
	ev->reason = reason;
	ev->mark = RD(direct, skb, mark);
	ev->len = RD(direct, skb, len);
	ev->cpu = bpf_get_smp_processor_id();
	cap = capture(buf, skb, &h, direct);
	ev->cap_len = cap;
	count(STAT_SEEN);
	if (bpf_ringbuf_output(&events, buf, sizeof(struct event) + cap, 0))
		count(STAT_LOST);
	return 0;
}

SEC("tp_btf/kfree_skb")
int kfree_skb_btf(__u64 *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx[0];
	__u32 reason = 0;

	if (cfg_tp_has_reason)
		reason = (__u32)ctx[2];
	return handle_drop(skb, ctx[1], reason, true);
}

SEC("tracepoint/skb/kfree_skb")
int kfree_skb_tp(struct trace_event_raw_kfree_skb *ctx)
{
	__u32 reason = 0;

	if (bpf_core_field_exists(ctx->reason))
		reason = ctx->reason;
	return handle_drop((struct sk_buff *)ctx->skbaddr, (__u64)ctx->location, reason, false);
}
