//go:build ignore
// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

/*
 * tcp.c reports TCP retransmissions and resets from the tcp:* tracepoints,
 * under the same in-kernel filters as drops (filter.h), through the same
 * ring buffers and counters (rings.h, maps.h; user space shares the drop
 * object's).
 *
 * The tuple is the socket's, local end as source. A reset sent for a
 * packet (tcp_v4_send_reset and tcp_v6_send_reset, with or without a
 * socket, e.g. to a SYN for a closed port) takes the tuple from that
 * packet, reversed, so it is the RST's: from the host that sends the RST
 * to the sender of the packet that caused it, as the kernel prints it.
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* tcp_record is a TCP event and the state of its socket at the event;
 * the sample is sent only when the socket has one. */
struct tcp_record {
	struct event ev;
	struct tcp_sample tcp;
};

/* send_filled applies the filters to r's event, filled from a socket or a
 * packet, sets its common fields, reads the state of sk (NULL when the
 * event has no socket) and sends it. */
static __always_inline int send_filled(struct tcp_record *r, __u8 kind, void *sk)
{
	struct event *ev = &r->ev;
	__u64 size = sizeof(*ev);

	if (!match(NULL, ev, NULL, false, true, READ_NONE))
		return 0;
	ev->kind = kind;
	ev->ts = bpf_ktime_get_ns();
	ev->cpu = bpf_get_smp_processor_id();
	ev->has_tcp_sample = read_tcp_sample(sk, ev->tcp_state, &r->tcp);
	if (ev->has_tcp_sample)
		size += sizeof(r->tcp);
	count(STAT_TCP_SEEN);
	if (output_event(r, size, ev->cpu))
		count(STAT_TCP_LOST);
	return 0;
}

/* sk_event fills ev from a socket (a sock, or a request sock's
 * sock_common). cookie is the socket's cookie, 0 if unknown. */
static __always_inline void sk_event(struct event *ev, struct sock_common *skc, __u64 cookie,
				     bool direct)
{
	ev->netns = sk_netns(skc, direct);
	ev->tcp_state = RD(direct, skc, skc_state);
	ev->sock_cookie = cookie;
	ev->sk_src_local = 1;
	read_sk_tuple(skc, ev, direct);
}

/* cookie returns the socket's cookie: made now through the helper where
 * the pointer is BTF-typed (tp_btf, 5.12+), which sock_diag then reports
 * for the same socket; else whatever the socket already has. */
static __always_inline __u64 cookie(void *sk, bool direct)
{
	if (!sk)
		return 0;
	if (direct)
		return bpf_get_socket_cookie(sk);
	return read_sk_cookie(sk, false);
}

/* report_sk reports an event of a socket; skb, when not NULL, is the
 * packet it is about (a retransmitted segment). */
static __always_inline int report_sk(void *sk, struct sk_buff *skb, __u8 kind, bool direct)
{
	struct tcp_record r = {};

	if (!sk)
		return 0;
	sk_event(&r.ev, sk, cookie(sk, direct), direct);
	r.ev.skb = (__u64)skb;
	return send_filled(&r, kind, sk);
}

/* report_synack reports a SYN-ACK retransmitted for a connection request;
 * the request sock holds the tuple. */
static __always_inline int report_synack(void *req, bool direct)
{
	struct tcp_record r = {};

	if (!req)
		return 0;
	sk_event(&r.ev, req, cookie(req, direct), direct);
	return send_filled(&r, EVENT_TCP_RETRANSMIT_SYNACK, NULL);
}

/* report_reset_sent reports an RST sent by sk (active reset; skb is NULL)
 * or in answer to skb (sk is the socket it reached, or NULL). */
static __always_inline int report_reset_sent(void *sk, struct sk_buff *skb, bool direct)
{
	struct tcp_record r = {};
	struct event *ev = &r.ev;
	struct headers h;
	__be16 port;
	__u32 addr[4];

	if (!skb)
		return report_sk(sk, NULL, EVENT_TCP_RESET_SENT, direct);
	read_dev(skb, ev, direct);
	parse_skb(skb, ev, &h, direct);
	ev->protocol = RD(direct, skb, protocol);
	ev->ifname[0] = 0; /* a TCP event has no device; netns is all we keep */
	ev->ifindex = 0;
	port = ev->sport;
	ev->sport = ev->dport;
	ev->dport = port;
	__builtin_memcpy(addr, ev->saddr, sizeof(addr));
	__builtin_memcpy(ev->saddr, ev->daddr, sizeof(addr));
	__builtin_memcpy(ev->daddr, addr, sizeof(addr));
	ev->sk_src_local = 1;
	ev->skb = (__u64)skb;
	if (sk) {
		ev->netns = sk_netns(sk, direct);
		ev->tcp_state = RD(direct, (struct sock_common *)sk, skc_state);
		ev->sock_cookie = cookie(sk, direct);
	}
	return send_filled(&r, EVENT_TCP_RESET_SENT, sk);
}

/* tp_btf programs (5.5+). The arguments used are stable: every kernel
 * passes (sk, skb) to tcp_retransmit_skb and tcp_send_reset, (sk, req) to
 * tcp_retransmit_synack and (sk) to tcp_receive_reset; later kernels only
 * appended arguments (err, reason). */

/* cfg_retrans_err: tcp_retransmit_skb passes the attempt's error as its
 * third argument (Linux 6.13+), and fires for attempts that failed too,
 * which retransmitted nothing: those are not reported. */
volatile const __u8 cfg_retrans_err = 0;

SEC("tp_btf/tcp_retransmit_skb")
int tcp_retransmit_skb_btf(__u64 *ctx)
{
	if (cfg_retrans_err && (int)ctx[2])
		return 0;
	return report_sk((void *)ctx[0], (struct sk_buff *)ctx[1], EVENT_TCP_RETRANSMIT, true);
}

SEC("tp_btf/tcp_retransmit_synack")
int tcp_retransmit_synack_btf(__u64 *ctx)
{
	return report_synack((void *)ctx[1], true);
}

SEC("tp_btf/tcp_send_reset")
int tcp_send_reset_btf(__u64 *ctx)
{
	return report_reset_sent((void *)ctx[0], (struct sk_buff *)ctx[1], true);
}

SEC("tp_btf/tcp_receive_reset")
int tcp_receive_reset_btf(__u64 *ctx)
{
	return report_sk((void *)ctx[0], NULL, EVENT_TCP_RESET_RECEIVED, true);
}

/* Classic tracepoints, for kernels that refuse tp_btf. They read the
 * pointers the records carry; the other record fields are not needed. */

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tcp_retransmit_skb_tp(void *ctx)
{
	const void *sk, *skb;

	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb)) {
		sk = BPF_CORE_READ((struct trace_event_raw_tcp_retransmit_skb *)ctx, skaddr);
		skb = BPF_CORE_READ((struct trace_event_raw_tcp_retransmit_skb *)ctx, skbaddr);
	} else {
		sk = BPF_CORE_READ((struct trace_event_raw_tcp_event_sk_skb *)ctx, skaddr);
		skb = BPF_CORE_READ((struct trace_event_raw_tcp_event_sk_skb *)ctx, skbaddr);
	}
	return report_sk((void *)sk, (struct sk_buff *)skb, EVENT_TCP_RETRANSMIT, false);
}

SEC("tracepoint/tcp/tcp_retransmit_synack")
int tcp_retransmit_synack_tp(struct trace_event_raw_tcp_retransmit_synack *ctx)
{
	return report_synack((void *)BPF_CORE_READ(ctx, req), false);
}

SEC("tracepoint/tcp/tcp_send_reset")
int tcp_send_reset_tp(void *ctx)
{
	const void *sk, *skb;

	if (bpf_core_type_exists(struct trace_event_raw_tcp_send_reset)) {
		sk = BPF_CORE_READ((struct trace_event_raw_tcp_send_reset *)ctx, skaddr);
		skb = BPF_CORE_READ((struct trace_event_raw_tcp_send_reset *)ctx, skbaddr);
	} else {
		sk = BPF_CORE_READ((struct trace_event_raw_tcp_event_sk_skb *)ctx, skaddr);
		skb = BPF_CORE_READ((struct trace_event_raw_tcp_event_sk_skb *)ctx, skbaddr);
	}
	return report_reset_sent((void *)sk, (struct sk_buff *)skb, false);
}

SEC("tracepoint/tcp/tcp_receive_reset")
int tcp_receive_reset_tp(struct trace_event_raw_tcp_event_sk *ctx)
{
	return report_sk((void *)BPF_CORE_READ(ctx, skaddr), NULL, EVENT_TCP_RESET_RECEIVED, false);
}
