//go:build ignore
// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

/*
 * trace.c follows packets through the kernel, pwru style. A path is one
 * skb's life from the first probe at which it matched the filters to its
 * free: its id is the skb's address and a generation taken from a global
 * counter when the path starts, so a later skb at the same address is a
 * new path.
 *
 * Every probe has a role, chosen per probe by user space:
 *  - start probes (tracepoints where the skb is live, and a few entry
 *    functions) run the filters on an untracked skb and start its path;
 *  - follow probes (every other function) report tracked skbs only, and
 *    return after one load while no path is live;
 *  - blind probes (tracepoints that may fire after the skb was freed, such
 *    as net_dev_xmit, or that BTF discovery cannot vouch for) report
 *    tracked skbs from their own arguments only and never start a path;
 *  - gone probes (kfree_skbmem, napi_skb_cache_put) end a path whose skb
 *    was freed without a tracepoint, reading only the pointer;
 *  - kfree_skb and consume_skb end the path: functions that run inside
 *    the free are follow probes, so they cannot start it again.
 *
 * The skb is the Nth argument of the probed function. fentry has one
 * program per position N (1-5) and role. kprobe-multi has two programs,
 * start and follow, which read N (and, at follow probes, whether the
 * function frees the skb) from the attach cookie: one load and one link
 * each, however many positions and roles. The kprobe backend loads the
 * same two as plain kprobe programs, one link per function with the same
 * cookie (bpf_get_attach_cookie on kprobes is 5.15+, as bpf_get_func_ip
 * there). Where the kernel
 * gives raw tracepoints an attach cookie (6.10+), the tracepoints share a
 * raw_tp program per position and role, the cookie naming the
 * tracepoint; before, a tp_btf copy per tracepoint names it in .rodata.
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
#include "paths.h"
#include "skb.h"
#include "wake.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MAX_STACK 32

volatile const __u8 cfg_stack = 0;	      /* add the kernel stack to events */
volatile const __u8 cfg_tp_has_reason = 1;    /* kfree_skb has a reason (5.17+) */
volatile const __u32 cfg_probe_id = 0;	      /* tp_btf copies: which tracepoint */
volatile const __u8 cfg_check_head = 0;	      /* tracepoint backend: see path_of_skb */
volatile const __u8 cfg_tp_cookie = 0;	      /* tracepoints: the cookie says which (6.10+) */
volatile const __u32 cfg_ring_slots = 1 << 12; /* slots of each CPU's step ring: a power of two */
volatile const __u32 cfg_slot_size = 1;	      /* bytes of a slot (step_ring's value size) */

/* path_step is a step as a program fills it: a path record without the
 * stack trace. */
struct path_step {
	struct event ev;
	__u64 func_ip;	  /* probed function, 0 for tracepoints */
	__u64 path;	  /* generation of the skb's path; with ev.skb, the path id */
	__u32 probe_id;	  /* tracepoint index in user space's table */
	__u32 stack_len; /* bytes of stack */
};

/* path_event is the record: a step, then with --output-stack the kernel
 * stack, written straight into the ring. */
struct path_event {
	struct event ev;
	__u64 func_ip;
	__u64 path;
	__u32 probe_id;
	__u32 stack_len;
	__u64 stack[MAX_STACK];
};

_Static_assert(sizeof(struct path_step) == __builtin_offsetof(struct path_event, stack),
	       "a path_step is a path_event up to its stack");

/* Referenced so their BTF reaches bpf2go. */
const struct path_event *unused_path_event __attribute__((unused));

/* Each CPU fills its steps in one buffer. A program that softirq work
 * interrupts between filling its step and writing it would write the
 * interrupting program's step a second time, in place of its own: each
 * program takes a ticket of its CPU (step_buf.ticket) when it claims the
 * buffer, and its step is written only if no other program took one
 * since, else counted lost. (With a buffer per nesting depth, or on the
 * program's own stack, the start programs cost the verifier two to
 * three times the work, and start-up in the VM up to twice the time.)
 * The ticket shares the buffer's first cache line: one look-up and one
 * line a step, where a map of its own cost a second of each. */
struct step_buf {
	__u64 ticket;
	struct path_step st;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct step_buf);
	__uint(max_entries, 1);
} steps SEC(".maps");

/* claim_step returns this CPU's step buffer and sets *ticket. */
static __always_inline struct path_step *claim_step(__u64 *ticket)
{
	__u32 zero = 0;
	struct step_buf *b = bpf_map_lookup_elem(&steps, &zero);

	if (!b)
		return 0;
	*ticket = ++b->ticket;
	return &b->st;
}

/* step_intact says no program took a ticket on this CPU since ticket. */
static __always_inline bool step_intact(__u64 ticket)
{
	__u32 zero = 0;
	struct step_buf *b = bpf_map_lookup_elem(&steps, &zero);

	return b && b->ticket == ticket;
}

/* path_of returns the slot of key's live path, NULL when none; the
 * look-up is skipped while no path is live. It never reads the skb. */
static __always_inline struct path_slot *path_of(__u64 key)
{
	return live ? find_path(key) : 0;
}

/* gen_of is the generation of the path in slot s, 0 when none. */
static __always_inline __u64 gen_of(struct path_slot *s)
{
	return s ? s->gen : 0;
}

/* head_of is the skb's data buffer where cfg_check_head needs it, else 0. */
static __always_inline __u64 head_of(struct sk_buff *skb, bool direct)
{
	return cfg_check_head ? (__u64)RD(direct, skb, head) : 0;
}

/* same_packet says, with cfg_check_head, that the tracked skb in slot s
 * still carries the packet its path started with: TCP frees most of its
 * skbs where no tracepoint fires (a segment coalesced into the one
 * before it), and the next skb of the flow, or of another, often takes
 * the same address and data buffer at once, which only the packet's
 * ident (packet_ident) then tells apart. A path that started without
 * one takes the first seen; once it has one, an skb without (not IP, or
 * ICMPv6 with no flow label, as router solicitations are) is another. */
static __always_inline bool same_packet(struct path_slot *s, struct sk_buff *skb, bool direct)
{
	__u64 id = packet_ident(skb, direct);

	if (!s->ident) {
		s->ident = id;
		return true;
	}
	return s->ident == id;
}

/* path_of_skb is path_of for a probe that may read the skb. With
 * cfg_check_head (where no probe sees the frees that fire no
 * tracepoint), an entry whose skb now has another data buffer, or
 * carries another packet, than when its path started is an skb freed
 * unseen and its address reused: that path is ended, and the skb is
 * untracked, so that it takes the untracked skb's way (the filters, and
 * at a start probe a path of its own). The filters are not run on a
 * tracked skb again: telling another skb by them too, after they passed,
 * inlined them a second time in every program, which tripled the
 * verifier's work (seconds under qemu, per function with fentry). */
static __always_inline struct path_slot *path_of_skb(struct sk_buff *skb, __u64 key,
						     bool direct)
{
	struct path_slot *s = path_of(key);

	if (s && cfg_check_head &&
	    (s->head != head_of(skb, direct) || !same_packet(s, skb, direct))) {
		end_slot(s, key);
		return 0;
	}
	return s;
}

/* ident_at is the packet ident a new path keeps, where cfg_check_head
 * needs it. */
static __always_inline __u64 ident_at(struct sk_buff *skb, bool direct)
{
	return cfg_check_head ? packet_ident(skb, direct) : 0;
}

/*
 * The step rings. Steps do not go through BPF ring buffers: reserving a
 * record takes the ring's lock with interrupts off, and committing it is
 * a third atomic operation on lines the reader shares; following an
 * iperf3 flow, that was a fifth of the programs' time (reserve and
 * commit some 45 ns a step). Each CPU has a ring of fixed-size slots in
 * step_ring, a memory-mapped array that user space reads in place:
 * CPU c's ring is keys c * cfg_ring_slots to (c + 1) * cfg_ring_slots - 1.
 * A program claims the slot at its CPU's head (an atomic add: a program
 * of an interrupt may nest between its load and its store), writes the
 * step into it, and commits it by storing the slot's index + 1 in seq.
 * User space reads slots in index order, a slot once seq says it was
 * written, and stores in cons the index up to which it handed steps on;
 * the programs read cons only when the head reaches the limit they last
 * computed from it, so while the ring has room that line stays with the
 * reader.
 */
#define SLOT_DISCARD (1ULL << 63) /* in seq: the slot holds no step */
#define RING_MARGIN 16		  /* slots kept free for programs that nest between the
				   * check of the limit and the claim */

struct step_slot {
	__u64 seq;		/* the slot's index + 1 once written, with SLOT_DISCARD or not */
	struct path_event rec;	/* without --output-stack the slot ends at rec.stack */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(key_size, sizeof(__u32));
	/* Set by user space: the size of a slot (cfg_slot_size), and the
	 * CPUs times cfg_ring_slots. No BTF type, so that the value may be
	 * shorter than struct step_slot without --output-stack. */
	__uint(value_size, sizeof(struct step_slot));
	__uint(max_entries, 1);
} step_ring SEC(".maps");

/* A CPU's positions in its step ring: what the programs write and what
 * user space writes are on lines of their own. */
struct ring_pos {
	__u64 head;	/* the next index to claim */
	__u64 limit;	/* head stays below it: cons + cfg_ring_slots - RING_MARGIN, as last read */
	__u64 pad1[6];
	__u64 cons;	/* user space: the first index it has not handed on */
	__u64 pad2[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct ring_pos);
	__uint(max_entries, 1); /* the number of possible CPUs, set by user space */
} step_pos SEC(".maps");

/* Referenced so their BTF reaches bpf2go. */
const struct ring_pos *unused_ring_pos __attribute__((unused));

/* commit_slot publishes a slot: its seq is stored after the step's bytes.
 * On x86 a plain store does that: stores become visible in program order
 * there, and the empty asm keeps the compiler from moving the step's
 * stores past it. An exchange, the full barrier it took before, made the
 * program wait for the slot's cache lines, which the reader had last read
 * on another CPU: 25 ns a step (kernel.bpf_stats_enabled, following an
 * iperf3 flow, 6.18). Elsewhere (arm64) the exchange orders them. Without
 * the barrier, the load of the reader's flag that follows may pass the
 * store, so a reader that arms its sleeper just then may miss the step:
 * it looks at the rings once more a moment later (read.go, armGrace). */
static __always_inline void commit_slot(struct step_slot *s, __u64 seq)
{
#if defined(__TARGET_ARCH_x86)
	asm volatile("" ::: "memory");
	*(volatile __u64 *)&s->seq = seq;
#else
	__sync_lock_test_and_set(&s->seq, seq);
#endif
}

/* wake_step_reader wakes a reader that waits for the step just committed
 * at index idx of the ring whose positions are p; fill as
 * wake_reader_if's. */
static __always_inline void wake_step_reader(struct ring_pos *p, __u64 idx, bool fill)
{
	__u32 *state = reader_waiting();

	if (!state)
		return;
	if (*state != READER_ASLEEP &&
	    (!fill || (idx + 1 - *(volatile __u64 *)&p->cons) * cfg_slot_size < *state))
		return;
	wake_now(state);
}

/* output_step writes st (and with --output-stack the kernel stack of
 * ctx) to the step ring of cpu, unless another program took a ticket
 * since ticket, which may have overwritten st: then the step is counted
 * lost, as when the ring is full. A step that takes a slot, written or
 * not, is counted by the ring's head, which user space adds to
 * STAT_SEEN: an atomic add to a counter of its own cost each step 10 ns. */
static __always_inline void output_step(void *ctx, struct path_step *st, __u64 ticket, __u32 cpu)
{
	struct ring_pos *p = bpf_map_lookup_elem(&step_pos, &cpu);
	struct step_slot *s;
	__u64 idx;
	__u32 key;
	long n;

	if (!p)
		goto refused;
	if (p->head >= p->limit) {
		p->limit = *(volatile __u64 *)&p->cons + cfg_ring_slots - RING_MARGIN;
		if (p->head >= p->limit)
			goto refused; /* full */
	}
	idx = __sync_fetch_and_add(&p->head, 1);
	key = cpu * cfg_ring_slots + (idx & (cfg_ring_slots - 1));
	s = bpf_map_lookup_elem(&step_ring, &key);
	if (!s)
		goto lost; /* not for a CPU user space counted: cannot happen */
	if (cfg_stack) {
		n = bpf_get_stack(ctx, s->rec.stack, sizeof(s->rec.stack), 0);
		__builtin_memcpy(&s->rec, st, sizeof(*st));
		s->rec.stack_len = n > 0 ? n : 0;
	} else {
		__builtin_memcpy(&s->rec, st, sizeof(*st));
	}
	if (!step_intact(ticket)) {
		commit_slot(s, (idx + 1) | SLOT_DISCARD);
		goto lost;
	}
	commit_slot(s, idx + 1);
	/* A waiting reader's fill is checked every 16th step of a CPU. */
	wake_step_reader(p, idx, !(ticket & 15));
	return;
refused: /* no slot: the head does not count it */
	count(STAT_SEEN);
lost:
	count(STAT_LOST);
}

/* send fills the fields every step has and writes st to the ring. */
static __always_inline int send(void *ctx, struct path_step *st, __u64 ticket, __u64 key,
				__u64 gen, __u64 ip, __u8 kind, __u32 reason, __u64 location)
{
	struct event *ev = &st->ev;

	ev->skb = key;
	ev->kind = kind;
	ev->ts = bpf_ktime_get_ns();
	ev->location = location;
	ev->reason = reason;
	ev->cpu = bpf_get_smp_processor_id();
	ev->cap_len = 0;
	ev->link = LINK_NONE;
	ev->orig_len = 0;
	__u8 flags = ev->tcp_flags;

	/* From sock_cookie to the end: what only drop and TCP events set,
	 * the samples' flags among them, but for the step's TCP flags. */
	__builtin_memset(&ev->sock_cookie, 0,
			 sizeof(*ev) - __builtin_offsetof(struct event, sock_cookie));
	ev->tcp_flags = flags;
	st->func_ip = ip;
	st->path = gen;
	st->probe_id = cfg_probe_id;
	/* Function probes have no probe id: func_ip says where. */
	if (cfg_tp_cookie && !ip)
		st->probe_id = bpf_get_attach_cookie(ctx);
	st->stack_len = 0;
	/* Each CPU writes its own ring: a path that changes CPU is put back
	 * in order by time in user space, where a shared ring cost every
	 * step its producer's line from the other CPU. */
	output_step(ctx, st, ticket, ev->cpu);
	return 0;
}

/* report_skb is on_skb once the skb may be reported: st is the CPU's
 * step buffer. */
static __always_inline int report_skb(void *ctx, struct path_step *st, __u64 ticket,
				      struct sk_buff *skb, __u64 gen, bool func, bool direct)
{
	__u64 key = (__u64)skb;
	struct headers h;

	/* An untracked skb must pass the filters; a tracked one is read. */
	if (!match(skb, &st->ev, &h, direct, !gen, READ_EVENT))
		return 0;
	if (!gen)
		gen = start_path(key, head_of(skb, direct), ident_at(skb, direct));
	if (!gen)
		return 0;
	read_skb_fields(skb, &st->ev, direct);
	read_tcp_flags(&st->ev, &h);
	return send(ctx, st, ticket, key, gen, func ? bpf_get_func_ip(ctx) : 0, EVENT_TRACE, 0, 0);
}

/* on_skb reports a step of skb at a start or follow probe: a tracked skb
 * always, an untracked one only at a start probe where it matches, which
 * starts its path. func says the probe is on a function, whose address
 * is read only once the step is reported (a helper call the compiler
 * would otherwise make before the first test). */
static __always_inline int on_skb(void *ctx, struct sk_buff *skb, bool func, bool direct,
				  bool start)
{
	struct path_step *st;
	struct path_slot *s;
	__u64 ticket;
	__u64 gen;

	if (!skb || (!start && !live))
		return 0;
	s = path_of_skb(skb, (__u64)skb, direct);
	gen = gen_of(s);
	if (!gen && (!start || quick_reject(skb, direct)))
		return 0;
	st = claim_step(&ticket);
	if (!st)
		return 0;
	return report_skb(ctx, st, ticket, skb, gen, func, direct);
}

/* report_end is on_end once the skb may be reported. */
static __always_inline int report_end(void *ctx, struct path_step *st, __u64 ticket,
				      struct sk_buff *skb,
				      struct path_slot *s, __u64 gen, __u8 kind, __u32 reason,
				      __u64 location)
{
	__u64 key = (__u64)skb;
	struct headers h;

	if (!match(skb, &st->ev, &h, true, !gen, READ_EVENT))
		return 0;
	if (gen && s)
		end_slot(s, key);
	else
		gen = new_generation();
	read_skb_fields(skb, &st->ev, true);
	read_tcp_flags(&st->ev, &h);
	return send(ctx, st, ticket, key, gen, 0, kind, reason, location);
}

/* on_end reports the free of skb (kfree_skb, consume_skb) and ends its
 * path; an untracked skb that matches is a path of one step when it is
 * dropped. A consumed skb that no probe saw start a path is not looked
 * at: every packet a socket reads ends there, and a one-step path of a
 * normal free says nothing; while no path is live that costs one load. */
static __always_inline int on_end(void *ctx, struct sk_buff *skb, __u8 kind, __u32 reason,
				  __u64 location)
{
	struct path_step *st;
	struct path_slot *s;
	__u64 ticket;
	__u64 gen;

	if (!skb || (kind == EVENT_CONSUME && !live))
		return 0;
	s = path_of_skb(skb, (__u64)skb, true);
	gen = gen_of(s);
	if (!gen && (kind == EVENT_CONSUME || quick_reject(skb, true)))
		return 0;
	st = claim_step(&ticket);
	if (!st)
		return 0;
	return report_end(ctx, st, ticket, skb, s, gen, kind, reason, location);
}

/* blank clears what a step read from nothing but its own arguments
 * leaves unset. */
static __always_inline void blank(struct event *ev)
{
	ev->family = 0;
	ev->l4proto = 0;
	ev->sport = 0;
	ev->dport = 0;
	ev->protocol = 0;
	ev->mark = 0;
	ev->len = 0;
	ev->ifindex = 0;
	ev->netns = 0;
	ev->ifname[0] = 0;
	ev->tcp_flags = 0;
}

/* on_blind reports a tracked skb at a probe that may see it freed: only
 * the probe's own arguments are read (dev and len where the probe passes
 * them), never the skb, and it never starts a path. func as on_skb's. */
static __always_inline int on_blind(void *ctx, struct sk_buff *skb, bool func, __u8 kind,
				    struct net_device *dev, __u32 len)
{
	__u64 key = (__u64)skb;
	struct path_step *st;
	struct path_slot *s;
	struct net *net;
	__u64 ticket;
	__u64 gen;

	if (!skb || !live)
		return 0;
	s = path_of(key);
	gen = gen_of(s);
	if (!gen || !s)
		return 0;
	st = claim_step(&ticket);
	if (!st)
		return 0;
	blank(&st->ev);
	st->ev.len = len;
	if (dev) {
		st->ev.ifindex = dev->ifindex;
		read_ifname(st->ev.ifname, dev, true);
		net = dev->nd_net.net;
		if (net)
			st->ev.netns = net->ns.inum;
	}
	if (kind != EVENT_TRACE)
		end_slot(s, key);
	return send(ctx, st, ticket, key, gen, func ? bpf_get_func_ip(ctx) : 0, kind, 0, 0);
}

/*
 * FAST_EXIT: the probes that return while no path is live (follow, blind,
 * gone, consume_skb) test `live` in the program itself and leave the rest
 * to a function of its own (a BPF-to-BPF call). The program is then a
 * load, a test and a return with no stack frame and no callee-saved
 * register to push and pop, which the JIT emits for a program whose body
 * needs them on every path, the fast one too: under qemu that was 40 ns
 * a run over an empty program's 92, at every function a packet crosses.
 */
static __noinline int follow_live(void *ctx, struct sk_buff *skb)
{
	return on_skb(ctx, skb, true, true, false);
}

static __noinline int blind_live(void *ctx, struct sk_buff *skb)
{
	return on_blind(ctx, skb, false, EVENT_TRACE, 0, 0);
}

static __noinline int gone_live(void *ctx, struct sk_buff *skb)
{
	return on_blind(ctx, skb, true, EVENT_CONSUME, 0, 0);
}

static __noinline int consume_live(void *ctx, struct sk_buff *skb)
{
	return on_end(ctx, skb, EVENT_CONSUME, 0, 0);
}

/* fentry and tp_btf programs are loaded once per target, which user space
 * sets as the program's attach target before loading. */
#define BTF_PROBES(n)                                                              \
	SEC("fentry/skb_" #n)                                                      \
	int fentry_skb_##n(__u64 *ctx)                                             \
	{                                                                          \
		if (!live)                                                         \
			return 0;                                                  \
		return follow_live(ctx, plain_skb(ctx[n - 1]));                    \
	}                                                                          \
	SEC("fentry/start_" #n)                                                    \
	int fentry_start_##n(__u64 *ctx)                                           \
	{                                                                          \
		return on_skb(ctx, plain_skb(ctx[n - 1]), true, true, true);       \
	}                                                                          \
	SEC("tp_btf/start_" #n)                                                    \
	int tp_start_##n(__u64 *ctx)                                               \
	{                                                                          \
		return on_skb(ctx, plain_skb(ctx[n - 1]), false, true, true);      \
	}                                                                          \
	SEC("tp_btf/blind_" #n)                                                    \
	int tp_blind_##n(__u64 *ctx)                                               \
	{                                                                          \
		if (!live)                                                         \
			return 0;                                                  \
		return blind_live(ctx, (struct sk_buff *)ctx[n - 1]);              \
	}

/* raw_tp programs are loaded once and attached to every tracepoint with
 * the skb at n, the cookie naming the tracepoint (6.10+). They read only
 * ctx[n - 1], so the kernel lets them attach to any tracepoint with at
 * least n arguments. The skb comes untyped; bpf_rdonly_cast (6.2+, so
 * there wherever cookies are) types it, for the plain loads tp_btf
 * programs make. */
#define RAW_TP_PROBES(n)                                                           \
	SEC("raw_tp/start_" #n)                                                    \
	int raw_tp_start_##n(__u64 *ctx)                                           \
	{                                                                          \
		struct sk_buff *skb = (struct sk_buff *)pkt_cast((void *)ctx[n - 1], struct sk_buff); \
		return on_skb(ctx, skb, false, true, true);                        \
	}                                                                          \
	SEC("raw_tp/blind_" #n)                                                    \
	int raw_tp_blind_##n(__u64 *ctx)                                           \
	{                                                                          \
		if (!live)                                                         \
			return 0;                                                  \
		return blind_live(ctx, (struct sk_buff *)ctx[n - 1]);              \
	}

#define POSITION(n)                                                                \
	BTF_PROBES(n)                                                              \
	RAW_TP_PROBES(n)

POSITION(1)
POSITION(2)
POSITION(3)
POSITION(4)
POSITION(5)

/* kprobe-multi cookies: the skb's position in the low byte, COOKIE_GONE
 * at the functions that free its memory (gone probes). */
#define COOKIE_POS 0xff
#define COOKIE_GONE 0x100

/* regs_arg loads argument n in place: without the empty asm, clang
 * merges the five loads into one at a computed offset of ctx, which the
 * verifier refuses ("dereference of modified ctx ptr"). */
#define regs_arg(ctx, n)                                                           \
	({                                                                         \
		__u64 __v = (__u64)PT_REGS_PARM##n(ctx);                           \
		asm volatile("" : "+r"(__v));                                      \
		(struct sk_buff *)__v;                                             \
	})

static __always_inline struct sk_buff *regs_skb(struct pt_regs *ctx, __u64 pos)
{
	switch (pos) {
	case 1:
		return regs_arg(ctx, 1);
	case 2:
		return regs_arg(ctx, 2);
	case 3:
		return regs_arg(ctx, 3);
	case 4:
		return regs_arg(ctx, 4);
	case 5:
		return regs_arg(ctx, 5);
	}
	return 0;
}

/* kprobe_skb runs on_skb on the skb a kprobe found in a register. Where
 * the kernel has bpf_rdonly_cast (6.2+) the skb is typed with it, so the
 * filters read it with plain loads, as tp_btf programs do, instead of a
 * bpf_probe_read_kernel call a field (a start probe cost 1.1 us a run
 * under qemu that way, against 0.3 for the raw_tp ones that cast). */
static __always_inline int kprobe_skb(struct pt_regs *ctx, struct sk_buff *skb, bool start)
{
	if (can_cast())
		return on_skb(ctx, (struct sk_buff *)pkt_cast(skb, struct sk_buff), true, true,
			      start);
	return on_skb(ctx, skb, true, false, start);
}

SEC("kprobe.multi/start")
int kprobe_multi_start(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);

	return kprobe_skb(ctx, regs_skb(ctx, cookie & COOKIE_POS), true);
}

/* kprobe_follow_live is kprobe_multi_follow once a path is live. */
static __noinline int kprobe_follow_live(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);

	if (cookie & COOKIE_GONE)
		return on_blind(ctx, (struct sk_buff *)PT_REGS_PARM1(ctx), true,
				EVENT_CONSUME, 0, 0);
	return kprobe_skb(ctx, regs_skb(ctx, cookie & COOKIE_POS), false);
}

/* kprobe_multi_follow returns after one load while no path is live
 * (FAST_EXIT). */
SEC("kprobe.multi/follow")
int kprobe_multi_follow(struct pt_regs *ctx)
{
	if (!live)
		return 0;
	return kprobe_follow_live(ctx);
}

/* Gone probes: the skb is the first argument of both functions. */
SEC("fentry/gone")
int fentry_gone(__u64 *ctx)
{
	if (!live)
		return 0;
	return gone_live(ctx, (struct sk_buff *)ctx[0]);
}

/* net_dev_xmit fires after the driver took the skb, which it may have
 * freed: the kernel passes the length as an argument for that reason. */
static __noinline int xmit_live(__u64 *ctx)
{
	return on_blind(ctx, (struct sk_buff *)ctx[0], false, EVENT_TRACE,
			plain(ctx[2], struct net_device), (__u32)ctx[3]);
}

SEC("tp_btf/net_dev_xmit")
int tp_net_dev_xmit(__u64 *ctx)
{
	if (!live)
		return 0;
	return xmit_live(ctx);
}

SEC("tp_btf/kfree_skb")
int tp_kfree_skb(__u64 *ctx)
{
	__u32 reason = 0;

	if (cfg_tp_has_reason)
		reason = (__u32)ctx[2];
	return on_end(ctx, plain_skb(ctx[0]), EVENT_DROP, reason, ctx[1]);
}

SEC("tp_btf/consume_skb")
int tp_consume_skb(__u64 *ctx)
{
	if (!live)
		return 0;
	return consume_live(ctx, plain_skb(ctx[0]));
}
