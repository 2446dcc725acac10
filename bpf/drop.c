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
#include "event.h"
#include "filter.h"
#include "maps.h"
#include "rings.h"
#include "skb.h"
#include "sock.h"
#include "summary.h"
#include "reply.h"
#include "nftrace.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Referenced so their BTF reaches bpf2go, which generates Go constants. */
const enum event_kind *unused_event_kind __attribute__((unused));
const enum link_kind *unused_link_kind __attribute__((unused));
const enum reply_kind *unused_reply_kind __attribute__((unused));
const enum stat_index *unused_stat_index __attribute__((unused));
const struct summary_key *unused_summary_key __attribute__((unused));
const struct summary_pending *unused_summary_pending __attribute__((unused));
const struct dev_key *unused_dev_key __attribute__((unused));
const struct tcp_sample *unused_tcp_sample __attribute__((unused));
const struct nft_rule_sample *unused_nft_rule_sample __attribute__((unused));
const enum reader_state *unused_reader_state __attribute__((unused));

/* Set by user space before load. */
volatile const __u8 cfg_tp_has_reason = 1; /* tp_btf/kfree_skb carries a reason (5.17+) */
volatile const __u32 cfg_snaplen = 0;      /* packet bytes to copy, 0 = none */
volatile const __u8 cfg_tcp = 0;	   /* --tcp: sample the TCP socket of a drop */

/* event_buf is a drop's record: the event, then its socket's TCP sample
 * when it has one, then the rule the kernel named when it did, then the
 * packet bytes. */
struct event_buf {
	struct event ev;
	union {
		__u8 data[MAX_SNAPLEN];
		struct {
			struct tcp_sample tcp;
			__u8 data[MAX_SNAPLEN];
		} sampled;
		struct {
			struct nft_rule_sample nft;
			__u8 data[MAX_SNAPLEN];
		} named;
		struct {
			struct tcp_sample tcp;
			struct nft_rule_sample nft;
			__u8 data[MAX_SNAPLEN];
		} both;
	};
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct event_buf);
	__uint(max_entries, 1);
} scratch SEC(".maps");

/* packet_dst is where the packet goes in buf, after the samples ev has. */
static __always_inline __u8 *packet_dst(struct event_buf *buf)
{
	if (buf->ev.has_nft_rule)
		return buf->ev.has_tcp_sample ? buf->both.data : buf->named.data;
	return buf->ev.has_tcp_sample ? buf->sampled.data : buf->data;
}

/* read_nft_sample fills ev->has_nft_rule and, when the kernel named the
 * rule that dropped skb, the sample after the TCP one. */
static __always_inline void read_nft_sample(struct event_buf *buf, struct sk_buff *skb)
{
	struct nft_rule_sample *dst = buf->ev.has_tcp_sample ? &buf->both.nft : &buf->named.nft;

	buf->ev.has_nft_rule = read_nft(skb, buf->ev.reason, buf->ev.ts, dst);
}

/* capture copies up to cfg_snaplen bytes of the linear data from the
 * Ethernet header when there is one, else from the IP header, to where
 * the packet goes in buf; ev->len and the samples are already set. */
static __always_inline __u32 capture(struct event_buf *buf, struct sk_buff *skb,
				     struct headers *h, bool direct)
{
	__u8 *dst = packet_dst(buf);
	struct event *ev = &buf->ev;
	unsigned char *start;
	unsigned char *data;
	unsigned char *end;
	__u64 cap;
	__u32 len;

	ev->link = LINK_NONE;
	ev->orig_len = 0;
	if (!cfg_snaplen || !h->nh_ok)
		return 0;
	start = h->head + (h->eth ? h->mh : h->nh);
	data = RD(direct, skb, data);
	len = ev->len;
	end = data + len - RD(direct, skb, data_len);
	if (end <= start)
		return 0;
	/* 64-bit unsigned, so the verifier sees a bound in [0, MAX_SNAPLEN]. */
	cap = (__u64)(end - start);
	if (cap > cfg_snaplen)
		cap = cfg_snaplen;
	if (cap > MAX_SNAPLEN)
		cap = MAX_SNAPLEN;
	if (bpf_probe_read_kernel(dst, cap, start))
		return 0;
	ev->link = h->eth ? LINK_ETHERNET : LINK_RAW_IP;
	ev->orig_len = len + (data - start);
	return cap;
}

static __always_inline int handle_drop(struct sk_buff *skb, __u64 location, __u32 reason,
				       bool direct)
{
	struct event_buf *buf;
	struct event *ev;
	struct headers h;
	struct sock *sk;
	__u32 zero = 0;
	__u64 size;
	__u32 cap;

	if (!reason_matches(reason))
		return 0;
	if (cfg_summary) {
		summarize_drop(skb, location, reason, direct);
		return 0;
	}
	if (quick_reject(skb, direct)) {
		forget_nft(skb);
		return 0;
	}
	buf = bpf_map_lookup_elem(&scratch, &zero);
	if (!buf)
		return 0;
	ev = &buf->ev;
	if (!match(skb, ev, &h, direct, true, READ_EVENT)) {
		forget_nft(skb);
		return 0;
	}

	ev->kind = EVENT_DROP;
	ev->ts = bpf_ktime_get_ns();
	ev->location = location;
	ev->reason = reason;
	ev->cpu = bpf_get_smp_processor_id();
	read_skb_fields(skb, ev, direct);
	sk = read_skb_sock(skb, ev, direct);
	ev->has_tcp_sample = cfg_tcp && read_tcp_sample(sk, ev->tcp_state, &buf->sampled.tcp);
	read_nft_sample(buf, skb);
	read_ct(skb, ev, direct);
	read_reply(skb, ev);
	read_tcp_flags(ev, &h);
	cap = capture(buf, skb, &h, direct);
	ev->cap_len = cap;
	size = sizeof(struct event) + cap;
	if (ev->has_tcp_sample)
		size += sizeof(struct tcp_sample);
	if (ev->has_nft_rule)
		size += sizeof(struct nft_rule_sample);
	count(STAT_SEEN);
	/* No wakeup per event: user space polls the rings every few
	 * milliseconds, so a storm costs no interrupt and context switch per
	 * drop and is read in batches. */
	if (output_event(buf, size, ev->cpu))
		count(STAT_LOST);
	return 0;
}

SEC("tp_btf/kfree_skb")
int kfree_skb_btf(__u64 *ctx)
{
	struct sk_buff *skb = plain_skb(ctx[0]); /* see plain, skb.h */
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
