/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sock.h reads what droptrace reports about a TCP socket: its tuple, seen
 * from the socket (local end as source), its namespace, state and cookie.
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
#define TCP_NEW_SYN_RECV 12

/* sk_is_full says whether a sock_common is the start of a full struct
 * sock, not a timewait or request sock (the kernel's sk_fullsock). */
static __always_inline bool sk_is_full(__u8 state)
{
	return state != TCP_TIME_WAIT && state != TCP_NEW_SYN_RECV;
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

/* read_skb_sock notes the TCP socket an skb belongs to, if any. */
static __always_inline void read_skb_sock(struct sk_buff *skb, struct event *ev, bool direct)
{
	struct sock_common *skc;

	ev->sock_cookie = 0;
	ev->tcp_state = 0;
	ev->sk_src_local = 0;
	if (ev->l4proto != IPPROTO_TCP)
		return;
	skc = (struct sock_common *)RD(direct, skb, sk);
	if (!skc)
		return;
	ev->tcp_state = RD(direct, skc, skc_state);
	ev->sock_cookie = read_sk_cookie(skc, direct);
	ev->sk_src_local = ev->sport == bpf_htons(RD(direct, skc, skc_num));
}

#endif
