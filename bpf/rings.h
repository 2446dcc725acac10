/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * rings.h declares the ring buffers that drop and TCP events go through:
 * one per CPU. With a single ring shared by all CPUs, every event of a
 * storm takes the ring's lock and producer position from the CPU that
 * wrote the last one; per CPU, both stay in the writer's cache. User space
 * creates a ring for each possible CPU, puts it in cpu_events, and merges
 * the rings' events by time.
 */
#ifndef DROPTRACE_RINGS_H
#define DROPTRACE_RINGS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wake.h"

struct cpu_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 12); /* set by user space */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 1); /* the number of possible CPUs, set by user space */
	__array(values, struct cpu_ring);
} cpu_events SEC(".maps");

/* output_event copies size bytes of data into the ring of cpu, the CPU
 * the program runs on, without waking user space, which polls (and is
 * woken by wake_reader when it sleeps, or when a burst fills the ring
 * between two polls: wake.h). It returns non-zero when the event
 * could not be written: the ring was full, or user space gave this CPU
 * none. */
static __always_inline long output_event(void *data, __u64 size, __u32 cpu)
{
	void *ring = bpf_map_lookup_elem(&cpu_events, &cpu);
	long err;

	if (!ring)
		return -1;
	err = bpf_ringbuf_output(ring, data, size, BPF_RB_NO_WAKEUP);
	wake_reader(ring);
	return err;
}

#endif
