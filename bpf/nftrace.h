/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * nftrace.h lets the kernel name the nftables rule behind a
 * NETFILTER_DROP. While the kernel's nft_trace_enabled static key is on,
 * nft_do_chain calls the noinline __nft_trace_packet for every rule that
 * matched, every verdict and every base chain policy, with the rule
 * (whose handle the blob keeps for tracing), its chain and the packet; it
 * returns at once unless the packet has nftrace set, but the call is made
 * for every packet. A program on it (kprobe or fentry, one is loaded)
 * keeps, per CPU, the last rule or policy whose verdict was NF_DROP; the
 * drop program, at the NETFILTER_DROP that follows on the same CPU, copies
 * it into the event when the skb is the same. Loaded only with cfg_nft,
 * which droptrace sets when it attributes firewall drops and the kernel
 * lets it attach.
 *
 * Its arguments differ between kernels (checked in the BTF and the code of
 * Debian's 6.1 and 6.12 nf_tables modules and of 6.18):
 *   layout 1 (6.1): __nft_trace_packet(info, chain, type), the rule,
 *     verdict and packet in *info;
 *   layout 2 (6.12, 6.18): __nft_trace_packet(pkt, verdict, rule, info,
 *     type), the rule's chain at the end of its blob (struct
 *     nft_rule_dp_last).
 * User space reads the layout from the function's BTF (cfg_nft_layout)
 * and loads nothing for a kernel with another one. On 6.1,
 * __nft_trace_verdict is an .isra clone (its arguments changed), but
 * __nft_trace_packet keeps its own: it is the one hooked.
 * nf_tables is often a module: the struct offsets are CO-RE relocated
 * against its BTF.
 */
#ifndef DROPTRACE_NFTRACE_H
#define DROPTRACE_NFTRACE_H

#include "kernel_types.h"
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "event.h"

/* bpf2go defines __TARGET_ARCH_x86 or __TARGET_ARCH_arm64 (bpf/gen.go), so
 * PT_REGS_PARMn read the registers of the architecture built for. */
#if !defined(__TARGET_ARCH_x86) && !defined(__TARGET_ARCH_arm64)
#error "nftrace.h reads kprobe arguments: build it per architecture (bpf2go -target amd64 or arm64)"
#endif

volatile const __u8 cfg_nft = 0;	/* link NETFILTER_DROPs to the rule the kernel named */
volatile const __u8 cfg_nft_layout = 0; /* __nft_trace_packet's arguments: 1 or 2, above */

/* uapi values: <linux/netfilter.h> NF_DROP and NF_VERDICT_MASK,
 * <linux/netfilter/nf_tables.h> enum nft_trace_types. Not included: those
 * headers pull in <linux/in.h>, whose types kernel_types.h defines. */
#define NF_DROP 0
#define NF_VERDICT_MASK 0xff
#define NFT_TRACETYPE_POLICY 1
#define NFT_TRACETYPE_RULE 3

/* NFT_CHAIN_WALK bounds the rules walked to find a rule's chain (layout 2);
 * past it the chain is left empty and user space finds it by the handle,
 * which is unique in its table. */
#define NFT_CHAIN_WALK 256

/* NFT_WINDOW_NS bounds how long before the drop the verdict was given.
 * The drop follows its verdict at once, on its CPU, and takes the slot
 * (read_nft, or forget_nft for a drop the filters leave out), so this is
 * only a backstop against a stale slot; generous, because a virtual CPU
 * can stall for milliseconds between two instructions. */
#define NFT_WINDOW_NS 50000000ULL

struct nf_hook_state {
	__u8 hook;
} __attribute__((preserve_access_index));

struct nft_pktinfo {
	struct sk_buff *skb;
	const struct nf_hook_state *state;
} __attribute__((preserve_access_index));

struct nft_verdict {
	int code;
} __attribute__((preserve_access_index));

struct nft_table {
	char *name;
	__u16 family : 6;
} __attribute__((preserve_access_index));

struct nft_chain {
	struct nft_table *table;
	char *name;
} __attribute__((preserve_access_index));

struct nft_base_chain {
	__u8 policy;
	struct nft_chain chain;
} __attribute__((preserve_access_index));

struct nft_rule_dp {
	__u64 is_last : 1, dlen : 12, handle : 42;
} __attribute__((preserve_access_index));

/* Layout 2: the blob's end marker, which names the chain. */
struct nft_rule_dp_last {
	struct nft_rule_dp end;
	const struct nft_chain *chain;
} __attribute__((preserve_access_index));

struct nft_traceinfo {
	const struct nft_base_chain *basechain;
} __attribute__((preserve_access_index));

/* Layout 1 */
struct nft_traceinfo___v1 {
	const struct nft_pktinfo *pkt;
	const struct nft_rule_dp *rule;
	const struct nft_verdict *verdict;
} __attribute__((preserve_access_index));

/* nft_verdict_state is a CPU's last NF_DROP verdict, for the drop that
 * follows it. */
struct nft_verdict_state {
	__u64 skb;
	__u64 ts;
	struct nft_rule_sample rule;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct nft_verdict_state);
	__uint(max_entries, 1);
} nft_verdicts SEC(".maps");

/* nft_args are __nft_trace_packet's arguments in either layout. */
struct nft_args {
	const struct nft_pktinfo *pkt;
	const struct nft_rule_dp *rule;
	const struct nft_verdict *verdict;
	const struct nft_chain *chain; /* layout 1; layout 2 finds it from the rule */
	const struct nft_base_chain *basechain;
	__u32 type;
};

static __always_inline void nft_args_of(struct nft_args *a, __u64 a0, __u64 a1, __u64 a2, __u64 a3,
					__u64 a4)
{
	if (cfg_nft_layout == 1) {
		const struct nft_traceinfo___v1 *info = (const void *)a0;
		const struct nft_traceinfo *base = (const void *)a0;

		a->pkt = BPF_CORE_READ(info, pkt);
		a->rule = BPF_CORE_READ(info, rule);
		a->verdict = BPF_CORE_READ(info, verdict);
		a->chain = (const struct nft_chain *)a1;
		a->basechain = BPF_CORE_READ(base, basechain);
		a->type = (__u32)a2;
		return;
	}
	a->pkt = (const void *)a0;
	a->verdict = (const void *)a1;
	a->rule = (const void *)a2;
	a->chain = NULL;
	a->basechain = BPF_CORE_READ((const struct nft_traceinfo *)a3, basechain);
	a->type = (__u32)a4;
}

/* rule_chain finds the chain of a rule (layout 2): its blob ends with a
 * struct nft_rule_dp_last that names it. */
static __always_inline const struct nft_chain *rule_chain(const struct nft_rule_dp *rule)
{
	const void *p = rule;
	__u64 dlen;
	int i;

	for (i = 0; i < NFT_CHAIN_WALK; i++) {
		if (BPF_CORE_READ_BITFIELD_PROBED((const struct nft_rule_dp *)p, is_last))
			return BPF_CORE_READ((const struct nft_rule_dp_last *)p, chain);
		dlen = BPF_CORE_READ_BITFIELD_PROBED((const struct nft_rule_dp *)p, dlen);
		p += bpf_core_type_size(struct nft_rule_dp) + dlen;
	}
	return NULL;
}

/* nft_keep stores in the CPU's slot what dropped the packet of pkt. */
static __always_inline void nft_keep(const struct nft_pktinfo *pkt, const struct nft_base_chain *bc,
				     const struct nft_chain *chain, __u64 handle, __u8 policy)
{
	const struct nft_table *table;
	struct nft_verdict_state *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&nft_verdicts, &zero);
	if (!s)
		return;
	s->skb = (__u64)BPF_CORE_READ(pkt, skb);
	s->ts = bpf_ktime_get_ns();
	s->rule.handle = handle;
	s->rule.policy = policy;
	s->rule.hook = BPF_CORE_READ(pkt, state, hook);
	/* The table is the base chain's: a jump never leaves its table. */
	table = BPF_CORE_READ(bc, chain.table);
	s->rule.family = BPF_CORE_READ_BITFIELD_PROBED(table, family);
	bpf_probe_read_kernel_str(s->rule.table, sizeof(s->rule.table), BPF_CORE_READ(table, name));
	s->rule.chain[0] = 0;
	if (chain)
		bpf_probe_read_kernel_str(s->rule.chain, sizeof(s->rule.chain), BPF_CORE_READ(chain, name));
}

/* nft_dropped keeps what dropped the packet, when the verdict or policy
 * is NF_DROP (a REJECT's verdict is NF_DROP too). The arguments are
 * copied to locals first: a CO-RE read through struct nft_args, which the
 * kernel does not have, would be relocated against it. */
static __always_inline int nft_dropped(__u64 a0, __u64 a1, __u64 a2, __u64 a3, __u64 a4)
{
	const struct nft_base_chain *bc;
	const struct nft_verdict *verdict;
	const struct nft_rule_dp *rule;
	const struct nft_chain *chain;
	struct nft_args a;

	if (!cfg_nft)
		return 0;
	nft_args_of(&a, a0, a1, a2, a3, a4);
	bc = a.basechain;
	if (a.type == NFT_TRACETYPE_POLICY) {
		if (BPF_CORE_READ(bc, policy) != NF_DROP)
			return 0;
		nft_keep(a.pkt, bc, __builtin_preserve_access_index(&bc->chain), 0, 1);
		return 0;
	}
	if (a.type != NFT_TRACETYPE_RULE)
		return 0;
	verdict = a.verdict;
	if ((BPF_CORE_READ(verdict, code) & NF_VERDICT_MASK) != NF_DROP)
		return 0;
	rule = a.rule;
	/* By the constant, not by a.chain: the verifier must not see the
	 * walk, whose struct layout 1 kernels lack (its reads are poisoned). */
	chain = cfg_nft_layout == 1 ? a.chain : rule_chain(rule);
	nft_keep(a.pkt, bc, chain, BPF_CORE_READ_BITFIELD_PROBED(rule, handle), 0);
	return 0;
}

SEC("kprobe/__nft_trace_packet")
int nft_trace_kprobe(struct pt_regs *ctx)
{
	return nft_dropped(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx),
			   PT_REGS_PARM4(ctx), PT_REGS_PARM5(ctx));
}

SEC("fentry/__nft_trace_packet")
int nft_trace_fentry(__u64 *ctx)
{
	if (cfg_nft_layout == 1)
		return nft_dropped(ctx[0], ctx[1], ctx[2], 0, 0);
	return nft_dropped(ctx[0], ctx[1], ctx[2], ctx[3], ctx[4]);
}

/* read_nft fills out with the rule the kernel named for the drop of skb
 * at now, and says whether it did. */
static __always_inline bool read_nft(struct sk_buff *skb, __u32 reason, __u64 now,
				     struct nft_rule_sample *out)
{
	struct nft_verdict_state *s;
	__u32 zero = 0;

	if (!cfg_nft ||
	    reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NETFILTER_DROP))
		return false;
	s = bpf_map_lookup_elem(&nft_verdicts, &zero);
	if (!s || s->skb != (__u64)skb || now - s->ts >= NFT_WINDOW_NS)
		return false;
	s->skb = 0;
	__builtin_memcpy(out, &s->rule, sizeof(*out));
	return true;
}

/* forget_nft clears the CPU's slot when it holds the verdict of skb,
 * dropped and left out by the filters, so that no later drop of an skb
 * at the same address takes it. */
static __always_inline void forget_nft(struct sk_buff *skb)
{
	struct nft_verdict_state *s;
	__u32 zero = 0;

	if (!cfg_nft)
		return;
	s = bpf_map_lookup_elem(&nft_verdicts, &zero);
	if (s && s->skb == (__u64)skb)
		s->skb = 0;
}

#endif
