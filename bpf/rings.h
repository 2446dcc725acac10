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

/* reader_flag[0] is set by user space when, its rings idle for a while,
 * it stops polling them and waits on `wake`: the next event clears it and
 * writes a record to `wake`, whose notification wakes it (trace.c has the
 * same for path events). Maps, not globals, so that the TCP object shares
 * them with the drop object, as it shares the rings. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} reader_flag SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16); /* a page on any page size */
} wake SEC(".maps");

/* wake_reader wakes a sleeping reader. Called after the event's commit (a
 * full barrier): a reader that set the flag before its last look at the
 * rings either saw the event or is woken here. */
static __always_inline void wake_reader(void)
{
	__u32 zero = 0;
	__u32 *asleep = bpf_map_lookup_elem(&reader_flag, &zero);

	if (asleep && *asleep) {
		__u64 one = 1;

		*asleep = 0;
		bpf_ringbuf_output(&wake, &one, sizeof(one), BPF_RB_FORCE_WAKEUP);
	}
}

/* output_event copies size bytes of data into the ring of cpu, the CPU
 * the program runs on, without waking user space, which polls (or, when
 * it sleeps, is woken by wake_reader). It returns non-zero when the event
 * could not be written: the ring was full, or user space gave this CPU
 * none. */
static __always_inline long output_event(void *data, __u64 size, __u32 cpu)
{
	void *ring = bpf_map_lookup_elem(&cpu_events, &cpu);
	long err;

	if (!ring)
		return -1;
	err = bpf_ringbuf_output(ring, data, size, BPF_RB_NO_WAKEUP);
	wake_reader();
	return err;
}

#endif
