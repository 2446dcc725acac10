/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * maps.h declares the per-CPU counters that every droptrace program
 * reports through. Each object declares them alike; user space creates
 * them once and hands them to every object it loads (MapReplacements).
 */
#ifndef DROPTRACE_MAPS_H
#define DROPTRACE_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "event.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, STAT_MAX);
} stats SEC(".maps");

/* count adds one to a stat of this CPU. Atomically: a program that an
 * interrupt's program nests in between the load and the store of a plain
 * increment would lose the nested one's count. */
static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

#endif
