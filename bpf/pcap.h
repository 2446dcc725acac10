/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * pcap.h runs the user's pcap-filter expression (tcpdump syntax) on an
 * skb's packet. User space compiles the expression twice, for data that
 * starts at the Ethernet header and for data that starts at the IP header,
 * and replaces the bodies of the two stubs below with them before loading
 * (pcapfilter.Inject). Without an expression filters.pcap_on is 0 and the
 * verifier removes both calls, so an unused filter costs nothing.
 *
 * The calling convention is pcapfilter's (its doc.go): static, not
 * inlined, three 64-bit arguments in R1-R3, all used by the stub's body
 * so that clang keeps them there.
 */
#ifndef DROPTRACE_PCAP_H
#define DROPTRACE_PCAP_H

#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "filter.h"

static __noinline __attribute__((unused)) bool filter_pcap_l2(__u64 data, __u64 data_end,
							      __u64 len)
{
	/* Replaced at load by pcapfilter.Inject. */
	return data < data_end && len != 0;
}

static __noinline __attribute__((unused)) bool filter_pcap_l3(__u64 data, __u64 data_end,
							      __u64 len)
{
	/* Replaced at load by pcapfilter.Inject. */
	return data < data_end && len != 0;
}

/* pcap_run runs the expression on the skb's linear data located by
 * locate() (skb.h): from the MAC header when an Ethernet header sits in
 * front of the network header (the L2 filter), else from the network
 * header (the L3 filter; then an expression that needs the link layer,
 * such as vlan, arp or ether[], matches nothing). len counts from the
 * filter's first byte, as a capture's length does, non-linear part
 * included. The end of the linear data is data + len - data_len, which
 * every kernel has, rather than tail, whose type changed (an offset on
 * 64-bit kernels). */
static __always_inline bool pcap_run(unsigned char *head, __u16 nh, bool eth, __u64 data,
				     __u32 len, __u32 data_len)
{
	__u64 l3 = (__u64)head + nh;
	__u64 end = data + len - data_len;
	__u64 l3len = len + (data - l3);

	if (eth)
		return filter_pcap_l2(l3 - ETH_HLEN, end, l3len + ETH_HLEN);
	return filter_pcap_l3(l3, end, l3len);
}

#endif
