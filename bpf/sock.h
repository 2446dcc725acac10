/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sock.h reads what droptrace reports about a TCP socket: its tuple, seen
 * from the socket (local end as source), its namespace, state and cookie,
 * and the connection's state at the event (struct tcp_sample): read there
 * and then, because a socket can be gone a microsecond later, and because
 * a look-up after the event sees the state after it.
 */
#ifndef DROPTRACE_SOCK_H
#define DROPTRACE_SOCK_H

#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "event.h"
#include "skb.h"

/* Address families and TCP states are user ABI (socket(2), inet_diag's
 * idiag_state), so their values are fixed; the kernel's TCP state enum is
 * anonymous and cannot be relocated by name anyway. */
#define AF_INET 2
#define AF_INET6 10
#define TCP_TIME_WAIT 6
#define TCP_LISTEN 10
#define TCP_NEW_SYN_RECV 12
#define SOCK_STREAM 1

/* cfg_hz is the kernel's CONFIG_HZ, set by user space before load (from
 * the kernel's config, else measured): icsk_rto is in jiffies. */
volatile const __u32 cfg_hz = 0;

/* sk_is_full says whether a sock_common is the start of a full struct
 * sock, not a timewait or request sock (the kernel's sk_fullsock). */
static __always_inline bool sk_is_full(__u8 state)
{
	return state != TCP_TIME_WAIT && state != TCP_NEW_SYN_RECV;
}

/* sk_is_connection says whether a socket in state is a full TCP socket
 * with a peer, whose tcp_info describes a connection: not a listener
 * (whose tcp_info counts its accept queue), request or TIME_WAIT sock. */
static __always_inline bool sk_is_connection(__u8 state)
{
	return state != 0 && state != TCP_LISTEN && sk_is_full(state);
}

static __always_inline bool is_v4_mapped(const __u32 *a)
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff);
}

/* read_sk_tuple fills ev's tuple from a socket, local end as source. A
 * v4-mapped IPv6 socket is reported as IPv4, as its packets are. */
static __always_inline void read_sk_tuple(struct sock_common *skc, struct event *ev, bool direct)
{
	__u16 family = RD(direct, skc, skc_family);

	ev->l4proto = IPPROTO_TCP;
	ev->sport = bpf_htons(RD(direct, skc, skc_num));
	ev->dport = RD(direct, skc, skc_dport);
	if (family == AF_INET6 && bpf_core_field_exists(skc->skc_v6_daddr)) {
		bpf_probe_read_kernel(ev->saddr, 16, &skc->skc_v6_rcv_saddr);
		bpf_probe_read_kernel(ev->daddr, 16, &skc->skc_v6_daddr);
		if (!is_v4_mapped(ev->saddr) || !is_v4_mapped(ev->daddr)) {
			ev->family = 6;
			return;
		}
	}
	ev->family = 4;
	__builtin_memset(ev->saddr, 0, sizeof(ev->saddr));
	__builtin_memset(ev->daddr, 0, sizeof(ev->daddr));
	ev->saddr[0] = RD(direct, skc, skc_rcv_saddr);
	ev->daddr[0] = RD(direct, skc, skc_daddr);
}

static __always_inline __u32 sk_netns(struct sock_common *skc, bool direct)
{
	struct net *net = RD(direct, skc, skc_net.net);

	return net ? RD(direct, net, ns.inum) : 0;
}

/* read_sk_cookie returns the socket's cookie without creating one: the
 * cookie is made on first use (bpf_get_socket_cookie, sock_diag), so an
 * old socket nobody asked about has none yet and this returns 0. */
static __always_inline __u64 read_sk_cookie(struct sock_common *skc, bool direct)
{
	return RD(direct, skc, skc_cookie.counter);
}

/* read_skb_sock notes the TCP socket an skb belongs to, if any, and
 * returns it; NULL when there is none. */
static __always_inline struct sock *read_skb_sock(struct sk_buff *skb, struct event *ev,
						  bool direct)
{
	struct sock_common *skc;

	ev->sock_cookie = 0;
	ev->tcp_state = 0;
	ev->sk_src_local = 0;
	if (ev->l4proto != IPPROTO_TCP)
		return NULL;
	skc = (struct sock_common *)RD(direct, skb, sk);
	if (!skc)
		return NULL;
	ev->tcp_state = RD(direct, skc, skc_state);
	ev->sock_cookie = read_sk_cookie(skc, direct);
	ev->sk_src_local = ev->sport == bpf_htons(RD(direct, skc, skc_num));
	return (struct sock *)skc;
}

/* jiffies_to_us is the kernel's jiffies_to_usecs() for every HZ it
 * allows (100, 250, 300, 1000): j * 10^6 / HZ, exact or rounded down as
 * the kernel's is. */
static __always_inline __u32 jiffies_to_us(__u32 j)
{
	if (!cfg_hz)
		return 0;
	return (__u64)j * 1000000 / cfg_hz;
}

/* TCP_RD reads a field of a tcp_sock: one load through c, a read-only
 * cast of it, where the kernel has bpf_rdonly_cast (6.2+), else through
 * bpf_probe_read_kernel. A struct sock pointer of a tp_btf program cannot
 * be read past the struct sock, so the direct read of RD does not apply. */
#define TCP_RD(c, tp, field) ((c) ? (c)->field : BPF_CORE_READ(tp, field))

/* sk_is_tcp says whether sk is a TCP socket, not a raw one; c is its
 * read-only cast or NULL. sk_protocol and sk_type are whole u16 fields
 * since 5.6, so where the kernel has bpf_rdonly_cast (6.2+) they are
 * single loads; older kernels get the bitfield-aware probe reads. */
static __always_inline bool sk_is_tcp(struct sock *sk, const struct tcp_sock *c)
{
	if (c)
		return c->inet_conn.icsk_inet.sk.sk_protocol == IPPROTO_TCP &&
		       c->inet_conn.icsk_inet.sk.sk_type == SOCK_STREAM;
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) == IPPROTO_TCP &&
	       BPF_CORE_READ_BITFIELD_PROBED(sk, sk_type) == SOCK_STREAM;
}

/* read_tcp_sample fills ts from sk, in state state, as tcp_get_info()
 * would; it returns false, leaving ts alone, when sk is not a TCP
 * connection's socket: none, a listener, a request or TIME_WAIT sock (which
 * are not struct tcp_sock), or a raw socket that sent a TCP packet. */
static __always_inline bool read_tcp_sample(struct sock *sk, __u8 state, struct tcp_sample *ts)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	const struct tcp_sock *c = NULL;

	if (!sk || !sk_is_connection(state))
		return false;
	if (can_cast())
		c = pkt_cast(sk, struct tcp_sock);
	if (!sk_is_tcp(sk, c))
		return false;
	ts->rtt_us = TCP_RD(c, tp, srtt_us) >> 3;
	ts->rttvar_us = TCP_RD(c, tp, mdev_us) >> 2;
	ts->rto_us = jiffies_to_us(TCP_RD(c, tp, inet_conn.icsk_rto));
	ts->retransmits = TCP_RD(c, tp, inet_conn.icsk_retransmits);
	ts->total_retrans = TCP_RD(c, tp, total_retrans);
	ts->lost = TCP_RD(c, tp, lost_out);
	ts->sacked = TCP_RD(c, tp, sacked_out);
	ts->unacked = TCP_RD(c, tp, packets_out);
	ts->snd_cwnd = TCP_RD(c, tp, snd_cwnd);
	ts->snd_ssthresh = TCP_RD(c, tp, snd_ssthresh);
	return true;
}

#endif
