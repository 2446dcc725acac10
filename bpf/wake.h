/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * wake.h lets user space sleep while its rings stay idle. The programs do
 * not wake it per event (BPF_RB_NO_WAKEUP): it polls. After a while of
 * finding nothing it sets reader_flag[0], looks at its rings once more,
 * and waits on `wake`; the next event clears the flag and writes a record
 * to `wake`, whose notification wakes it. Maps, not globals, so that the
 * TCP object shares them with the drop object, as it shares the rings.
 */
#ifndef DROPTRACE_WAKE_H
#define DROPTRACE_WAKE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

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

#endif
