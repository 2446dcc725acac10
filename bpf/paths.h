/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * paths.h keeps trace.c's live paths: for each, the skb's address, the
 * path's generation, and the skb's data buffer and packet identity
 * (ident_of) when the path started.
 *
 * They are kept in a set-associative table in an array map. An address
 * hashes to a set of PATH_WAYS slots, and a look-up is a few loads that
 * the verifier inlines, as it does an array's look-up. The LRU hash map
 * it replaced cost every step a helper call that hashed the key and
 * walked a bucket list: a reported step took 300-360 ns of BPF time with
 * this table against 370-480 with that map (kernel.bpf_stats_enabled,
 * 6.18).
 *
 * A new path takes a free slot of its set, else the slot of the set's
 * oldest path, which is forgotten: that takes PATH_WAYS newer paths at
 * once in one set of PATH_SETS. (The LRU map forgot its least recently
 * seen entry once all 65,536 were taken.)
 *
 * Slots are written without a lock. A start that races with another
 * start or an end on the same slot, on two CPUs within nanoseconds, may
 * leave the slot naming one skb with the other's generation, as a
 * look-up of the LRU map could return an entry being reused. `paths`
 * stays right: a slot is counted when a start fills it from free, and
 * counted down only by the end that frees it.
 */
#ifndef DROPTRACE_PATHS_H
#define DROPTRACE_PATHS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define PATH_SET_BITS 14
#define PATH_SETS (1 << PATH_SET_BITS)
#define PATH_WAYS 4

/* live is 1 while a slot may hold a path: follow probes return after
 * loading it while it is 0. It is written only when it changes, and
 * alone in its section's cache line: every probe loads it, and when it
 * was the count itself, each path's start and end (two atomic writes on
 * two CPUs) took the line from every other CPU's probes, whose next step
 * missed on it: following an iperf3 flow, the programs took 270 ns a
 * call with the count and 245 with the flag (kernel.bpf_stats_enabled,
 * 6.18, four runs of each, alternated). */
__u64 live SEC(".data.live") = 0;
/* paths counts the slots that hold a path. Paths whose skb was freed
 * where no probe saw it stay counted until a new path takes their slot,
 * so it, and live, can err high, which costs look-ups, never a missed
 * step. */
__u64 paths = 0;
/* generation is the last path generation handed out. */
__u64 generation = 0;

/* path_slot is one path: skb is 0 in a free slot. 32 bytes, so that a
 * set is two cache lines. head and ident are set only where trace.c's
 * cfg_check_head needs them. */
struct path_slot {
	__u64 skb;
	__u64 gen;
	__u64 head;
	__u64 ident;
};

struct path_set {
	struct path_slot way[PATH_WAYS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct path_set);
	__uint(max_entries, PATH_SETS);
} tracked SEC(".maps");

/* addr_bits returns the low 32 bits of p as a number, whether the
 * verifier types p as a pointer (tp_btf, fentry, a cast skb) or not
 * (raw_tp arguments, kprobe registers): a 32-bit subtraction is the one
 * arithmetic it lets a privileged program do on a pointer, and its
 * result is a number. A multiplication by the pointer would be refused. */
static __always_inline __u32 addr_bits(__u64 p)
{
	__u64 v;

	asm volatile("r0 = %[p]\n\tw0 -= 0\n\t%[v] = r0" : [v] "=r"(v) : [p] "r"(p) : "r0");
	return v;
}

/* set_of returns the set of the skb at key (Fibonacci hashing: skbs are
 * slab objects at a fixed stride, which the multiplication spreads). */
static __always_inline struct path_set *set_of(__u64 key)
{
	__u32 i = (addr_bits(key) * 0x9E3779B1U) >> (32 - PATH_SET_BITS);

	return bpf_map_lookup_elem(&tracked, &i);
}

/* slot_of returns key's slot in set, NULL when it has none. */
static __always_inline struct path_slot *slot_of(struct path_set *set, __u64 key)
{
#pragma unroll
	for (int i = 0; i < PATH_WAYS; i++)
		if (set->way[i].skb == key)
			return &set->way[i];
	return 0;
}

/* find_path returns key's slot, NULL when it has none. */
static __always_inline struct path_slot *find_path(__u64 key)
{
	struct path_set *set = set_of(key);

	return set ? slot_of(set, key) : 0;
}

/* path_added counts a slot filled from free, and sets live. The add is
 * a full barrier before live is read: with path_removed's, either this
 * start sees live cleared, or that end sees this path counted. */
static __always_inline void path_added(void)
{
	__sync_fetch_and_add(&paths, 1);
	if (!live)
		live = 1;
}

/* path_removed counts a slot freed, and clears live with the last. A
 * start that counted its path meanwhile sets it again, here or itself. */
static __always_inline void path_removed(void)
{
	if (__sync_fetch_and_sub(&paths, 1) != 1)
		return;
	__sync_lock_test_and_set(&live, 0);
	if (paths)
		live = 1;
}

/* end_slot frees s, key's slot, unless a new path took it meanwhile. */
static __always_inline void end_slot(struct path_slot *s, __u64 key)
{
	if (__sync_val_compare_and_swap(&s->skb, key, 0) == key)
		path_removed();
}

static __always_inline __u64 new_generation(void)
{
	return __sync_fetch_and_add(&generation, 1) + 1;
}

/* victim returns the slot a new path takes in set: a free one, else the
 * oldest path's. */
static __always_inline struct path_slot *victim(struct path_set *set)
{
	struct path_slot *v = &set->way[0];

#pragma unroll
	for (int i = 0; i < PATH_WAYS; i++) {
		if (!set->way[i].skb)
			return &set->way[i];
		if (set->way[i].gen < v->gen)
			v = &set->way[i];
	}
	return v;
}

/* start_path makes key a live path, whose skb has the data buffer head
 * and carries the packet ident, and returns its generation. */
static __always_inline __u64 start_path(__u64 key, __u64 head, __u64 ident)
{
	struct path_set *set = set_of(key);
	struct path_slot *s;
	__u64 gen;

	if (!set)
		return 0;
	s = slot_of(set, key);
	if (s)
		return s->gen; /* another CPU started it meanwhile */
	s = victim(set);
	gen = new_generation();
	s->gen = 0; /* a look-up meanwhile finds no path, not the old one's */
	s->head = head;
	s->ident = ident;
	if (!__sync_lock_test_and_set(&s->skb, key))
		path_added();
	s->gen = gen;
	return gen;
}

#endif
