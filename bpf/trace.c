//go:build ignore
// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

/*
 * trace.c follows packets through the kernel, pwru style. Every probe,
 * whatever its backend, calls on_skb(): the first probe at which an skb
 * matches the filters remembers its address in `tracked`, so its later
 * steps are reported even when its headers no longer match (after NAT,
 * encapsulation, or before they are parsed). kfree_skb and consume_skb end
 * the path and forget the skb.
 *
 * The skb is the Nth argument of the probed function; there is one
 * program per position N (1-5) and backend, chosen per function by user
 * space from BTF.
 */

/* bpf2go defines __TARGET_ARCH_x86 or __TARGET_ARCH_arm64 (bpf/gen.go), so
 * PT_REGS_PARMn read the registers of the architecture built for. */
#if !defined(__TARGET_ARCH_x86) && !defined(__TARGET_ARCH_arm64)
#error "trace.c reads kprobe arguments: build it per architecture (bpf2go -target amd64 or arm64)"
#endif
#include "kernel_types.h"
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "event.h"
#include "filter.h"
#include "maps.h"
#include "skb.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MAX_STACK 32
#define MAX_TRACKED 65536

volatile const __u8 cfg_stack = 0;	      /* add the kernel stack to events */
volatile const __u8 cfg_tp_has_reason = 1;    /* kfree_skb has a reason (5.17+) */
volatile const __u32 cfg_probe_id = 0;	      /* tp_btf copies: which tracepoint */

/* trace_event is a struct event plus where the skb was seen. */
struct path_event {
	struct event ev;
	__u64 func_ip;	  /* probed function, 0 for tracepoints */
	__u32 probe_id;	  /* tracepoint index in user space's table */
	__u32 stack_len; /* bytes of stack */
	__u64 stack[MAX_STACK];
};

/* Referenced so their BTF reaches bpf2go. */
const struct path_event *unused_path_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct path_event);
	__uint(max_entries, 1);
} scratch SEC(".maps");

/* events carries path events: one ring for all CPUs, so that an skb's steps
 * arrive in the order they happened even when it changes CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 23);
} events SEC(".maps");

/* tracked holds the skbs whose path is being reported; LRU so that skbs
 * freed without a tracepoint (e.g. kfree_skbmem) age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u64);
	__type(value, __u8);
	__uint(max_entries, MAX_TRACKED);
} tracked SEC(".maps");

/* on_skb reports skb at a probe when it is tracked or matches; kind is
 * EVENT_TRACE, or EVENT_DROP/EVENT_CONSUME at the end of the path. */
static __always_inline int on_skb(void *ctx, struct sk_buff *skb, __u64 ip, __u8 kind,
				  __u32 reason, __u64 location, bool direct)
{
	__u64 key = (__u64)skb;
	struct path_event *te;
	struct headers h;
	struct event *ev;
	__u32 zero = 0;
	bool known;

	if (!skb)
		return 0;
	te = bpf_map_lookup_elem(&scratch, &zero);
	if (!te)
		return 0;
	ev = &te->ev;
	known = bpf_map_lookup_elem(&tracked, &key);
	if (!match(skb, ev, &h, direct, !known, READ_EVENT))
		return 0;
	if (kind == EVENT_TRACE && !known)
		bpf_map_update_elem(&tracked, &key, &zero, BPF_ANY);
	else if (kind != EVENT_TRACE && known)
		bpf_map_delete_elem(&tracked, &key);

	ev->kind = kind;
	ev->ts = bpf_ktime_get_ns();
	ev->location = location;
	ev->reason = reason;
	read_skb_fields(skb, ev, direct);
	read_tcp_flags(ev, &h);
	ev->cpu = bpf_get_smp_processor_id();
	ev->cap_len = 0;
	ev->link = LINK_NONE;
	ev->orig_len = 0;
	te->func_ip = ip;
	te->probe_id = cfg_probe_id;
	te->stack_len = 0;
	if (cfg_stack) {
		long n = bpf_get_stack(ctx, te->stack, sizeof(te->stack), 0);

		if (n > 0)
			te->stack_len = n;
	}
	count(STAT_SEEN);
	/* User space polls; see drop.c. */
	if (bpf_ringbuf_output(&events, te, sizeof(*te), BPF_RB_NO_WAKEUP))
		count(STAT_LOST);
	return 0;
}

#define KPROBE(n)                                                                  \
	SEC("kprobe/skb_" #n)                                                      \
	int kprobe_skb_##n(struct pt_regs *ctx)                                    \
	{                                                                          \
		return on_skb(ctx, (struct sk_buff *)PT_REGS_PARM##n(ctx),         \
			      bpf_get_func_ip(ctx), EVENT_TRACE, 0, 0, false);     \
	}                                                                          \
	SEC("kprobe.multi/skb_" #n)                                                \
	int kprobe_multi_skb_##n(struct pt_regs *ctx)                              \
	{                                                                          \
		return on_skb(ctx, (struct sk_buff *)PT_REGS_PARM##n(ctx),         \
			      bpf_get_func_ip(ctx), EVENT_TRACE, 0, 0, false);     \
	}

/* fentry and tp_btf programs are loaded once per target, which user space
 * sets as the program's attach target before loading. */
#define BTF_PROBES(n)                                                              \
	SEC("fentry/skb_" #n)                                                      \
	int fentry_skb_##n(__u64 *ctx)                                             \
	{                                                                          \
		return on_skb(ctx, (struct sk_buff *)ctx[n - 1],                   \
			      bpf_get_func_ip(ctx), EVENT_TRACE, 0, 0, true);      \
	}                                                                          \
	SEC("tp_btf/skb_" #n)                                                      \
	int tp_skb_##n(__u64 *ctx)                                                 \
	{                                                                          \
		return on_skb(ctx, (struct sk_buff *)ctx[n - 1], 0, EVENT_TRACE,   \
			      0, 0, true);                                         \
	}

KPROBE(1)
KPROBE(2)
KPROBE(3)
KPROBE(4)
KPROBE(5)
BTF_PROBES(1)
BTF_PROBES(2)
BTF_PROBES(3)
BTF_PROBES(4)
BTF_PROBES(5)

SEC("tp_btf/kfree_skb")
int tp_kfree_skb(__u64 *ctx)
{
	__u32 reason = 0;

	if (cfg_tp_has_reason)
		reason = (__u32)ctx[2];
	return on_skb(ctx, (struct sk_buff *)ctx[0], 0, EVENT_DROP, reason, ctx[1], true);
}

SEC("tp_btf/consume_skb")
int tp_consume_skb(__u64 *ctx)
{
	return on_skb(ctx, (struct sk_buff *)ctx[0], 0, EVENT_CONSUME, 0, 0, true);
}
