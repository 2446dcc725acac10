// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

/*
 * stub.c shows how a droptrace program calls a pcap filter: one stub per
 * link type, whose body pcapfilter.Inject replaces at load. on_drop reads
 * the skb with direct loads (tp_btf), on_drop_core with BPF_CORE_READ (as
 * on kernels or hooks without BTF-typed arguments); both count the drops
 * each filter matches. pcapfilter's tests load it, inject compiled
 * expressions, and make real drops.
 *
 * Rebuild (committed, like bpf/): cd pcapfilter/testdata &&
 *   clang-14 -O2 -g -Wall -Werror -target bpfel -I/usr/include/x86_64-linux-gnu -c stub.c -o stub_bpfel.o &&
 *   llvm-strip-14 -g stub_bpfel.o
 */

#include <linux/types.h>
#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define HDR_UNSET ((__u16)~0U)

struct sk_buff {
	unsigned int len;
	__u16 network_header;
	__u16 mac_header;
	unsigned int tail; /* an offset from head on 64-bit kernels */
	unsigned char *head;
	unsigned char *data;
} __attribute__((preserve_access_index));

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__u64 matched_l2, matched_l3;

/* The stubs: bodies replaced by pcapfilter.Inject; they use every
 * argument so that clang keeps them in R1-R3. */
static __noinline bool filter_pcap_l2(__u64 data, __u64 data_end, __u64 len)
{
	return data < data_end && len != 0;
}

static __noinline bool filter_pcap_l3(__u64 data, __u64 data_end, __u64 len)
{
	return data < data_end && len != 0;
}

/* match runs both filters: L3 from the network header, L2 from the MAC
 * header when there is an Ethernet header in front of it. len counts from
 * each filter's start, like a capture's length. */
static __always_inline void match(__u64 head, __u64 data, __u32 len, __u16 nh, __u16 mh, __u32 tail)
{
	__u64 end = head + tail;
	__u64 l3len;

	if (nh == HDR_UNSET || (nh == 0 && mh == HDR_UNSET))
		return;
	l3len = len + (data - (head + nh));
	if (filter_pcap_l3(head + nh, end, l3len))
		__sync_fetch_and_add(&matched_l3, 1);
	if (mh != HDR_UNSET && nh - mh == 14 && filter_pcap_l2(head + mh, end, l3len + 14))
		__sync_fetch_and_add(&matched_l2, 1);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(on_drop, struct sk_buff *skb)
{
	match((__u64)skb->head, (__u64)skb->data, skb->len, skb->network_header, skb->mac_header, skb->tail);
	return 0;
}

SEC("raw_tp/kfree_skb")
int on_drop_core(struct bpf_raw_tracepoint_args *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx->args[0];

	match((__u64)BPF_CORE_READ(skb, head), (__u64)BPF_CORE_READ(skb, data), BPF_CORE_READ(skb, len),
	      BPF_CORE_READ(skb, network_header), BPF_CORE_READ(skb, mac_header), BPF_CORE_READ(skb, tail));
	return 0;
}
