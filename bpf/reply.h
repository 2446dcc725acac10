/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * reply.h links a drop to the reply a REJECT sent for it. The REJECT
 * target sends its reply, then its verdict frees the packet, in one call
 * on one CPU: icmp:icmp_send fires with the dropped skb's address, and the
 * RST or ICMPv6 error it builds passes net:net_dev_queue just before the
 * drop. Two programs keep the last of each per CPU (two addresses and
 * times: bounded, no lookup by key); the drop program reads them. They are
 * loaded only with cfg_replies, which droptrace sets when it attributes
 * firewall drops.
 */
#ifndef DROPTRACE_REPLY_H
#define DROPTRACE_REPLY_H

#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "event.h"
#include "skb.h"

/* REPLY_WINDOW_NS bounds how long before the drop its reply was sent. */
#define REPLY_WINDOW_NS 1000000ULL

#define TCP_FLAG_RST 0x04

volatile const __u8 cfg_replies = 0; /* link drops to the replies REJECT sent */

struct reply_state {
	__u64 icmp_skb; /* the skb icmp_send answered, its time, type and code */
	__u64 icmp_ts;
	__u64 sent_skb; /* the last skb queued for transmission, and its time */
	__u64 sent_ts;
	__u8 icmp_type;
	__u8 icmp_code;
	struct event sent; /* its headers, parsed at the drop */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct reply_state);
	__uint(max_entries, 1);
} replies SEC(".maps");

static __always_inline struct reply_state *reply_slot(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&replies, &zero);
}

SEC("tp_btf/icmp_send")
int icmp_send_btf(__u64 *ctx)
{
	struct reply_state *r = reply_slot();

	if (!r)
		return 0;
	r->icmp_skb = ctx[0];
	r->icmp_ts = bpf_ktime_get_ns();
	r->icmp_type = (__u8)ctx[1];
	r->icmp_code = (__u8)ctx[2];
	return 0;
}

SEC("tp_btf/net_dev_queue")
int net_dev_queue_btf(__u64 *ctx)
{
	struct reply_state *r = reply_slot();

	if (!r)
		return 0;
	r->sent_skb = ctx[0];
	r->sent_ts = bpf_ktime_get_ns();
	return 0;
}

/* answers says whether the sent packet s goes back to the sender of the
 * dropped one ev: its destination is ev's source. */
static __always_inline bool answers(struct event *s, struct event *ev)
{
	if (s->family != ev->family || s->daddr[0] != ev->saddr[0])
		return false;
	return s->family == 4 || (s->daddr[1] == ev->saddr[1] && s->daddr[2] == ev->saddr[2] &&
				  s->daddr[3] == ev->saddr[3]);
}

/* read_sent fills ev's reply from the packet queued last on this CPU when
 * it is a TCP RST of ev's connection or an ICMP error to ev's sender. */
static __always_inline void read_sent(struct reply_state *r, struct event *ev)
{
	struct sk_buff *skb = (struct sk_buff *)r->sent_skb;
	struct event *s = &r->sent;
	struct headers h;
	unsigned char *nh;
	__u32 off = 40;
	__u8 l4[14];

	parse_skb(skb, s, &h, false);
	if (!answers(s, ev))
		return;
	/* The transport header's offset is not always set on a reply built
	 * by nf_reject: from the IP header (nf_reject adds no IPv6
	 * extension header). */
	nh = h.head + h.nh;
	if (s->family == 4) {
		if (bpf_probe_read_kernel(l4, 1, nh))
			return;
		off = (l4[0] & 0xf) * 4;
	}
	if (bpf_probe_read_kernel(l4, sizeof(l4), nh + off))
		return;
	if (s->l4proto == IPPROTO_TCP && ev->l4proto == IPPROTO_TCP && s->sport == ev->dport &&
	    s->dport == ev->sport && (l4[13] & TCP_FLAG_RST)) {
		ev->reply = REPLY_TCP_RESET;
	} else if (s->l4proto == IPPROTO_ICMPV6 && l4[0] < 128) {
		ev->reply = REPLY_ICMP6;
	} else if (s->l4proto == IPPROTO_ICMP && (l4[0] == 3 || l4[0] == 11 || l4[0] == 12)) {
		ev->reply = REPLY_ICMP;
	} else {
		return;
	}
	ev->reply_type = l4[0];
	ev->reply_code = l4[1];
	if (ev->reply == REPLY_TCP_RESET)
		ev->reply_type = ev->reply_code = 0;
}

/* read_reply fills ev's reply, for a drop at ev->ts of skb. */
static __always_inline void read_reply(struct sk_buff *skb, struct event *ev)
{
	struct reply_state *r;

	ev->reply = REPLY_NONE;
	ev->reply_type = 0;
	ev->reply_code = 0;
	if (!cfg_replies)
		return;
	r = reply_slot();
	if (!r)
		return;
	if (r->icmp_skb == (__u64)skb && ev->ts - r->icmp_ts < REPLY_WINDOW_NS) {
		ev->reply = REPLY_ICMP;
		ev->reply_type = r->icmp_type;
		ev->reply_code = r->icmp_code;
		r->icmp_skb = 0;
		return;
	}
	if (r->sent_skb && ev->ts - r->sent_ts < REPLY_WINDOW_NS) {
		read_sent(r, ev);
		r->sent_skb = 0;
	}
}

#endif
