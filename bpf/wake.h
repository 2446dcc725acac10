/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * wake.h lets user space wait between its reads of the rings without
 * letting a burst fill them, and sleep while they stay idle. The programs
 * do not wake it per event (BPF_RB_NO_WAKEUP): it polls, at an interval
 * that grows while events flood in. reader_flag[0] says what it waits
 * for: between two polls, a number of bytes, when the next event that
 * leaves its ring holding as many must wake it (a burst far above the
 * rate the interval was chosen for); READER_ASLEEP after a while of
 * finding nothing, when the next event at all must. The event that wakes
 * it clears the flag and writes a record to `wake`, whose notification
 * ends the wait. Maps, not globals, so that the TCP object shares them
 * with the drop object, as it shares the rings.
 */
#ifndef DROPTRACE_WAKE_H
#define DROPTRACE_WAKE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* What the reader waits for (reader_flag[0]); any other value is a
 * number of bytes: it waits for its next poll, or a ring holding as many. */
enum reader_state {
	READER_POLLING = 0, /* nothing: it reads the rings now */
	READER_ASLEEP = 1,  /* the next event */
};

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

/* reader_waiting returns the reader's flag when the reader waits for
 * an event (it sleeps, or waits for a ring to fill), else NULL. */
static __always_inline __u32 *reader_waiting(void)
{
	__u32 zero = 0;
	__u32 *state = bpf_map_lookup_elem(&reader_flag, &zero);

	return state && *state != READER_POLLING ? state : 0;
}

/* wake_now ends the reader's wait: it clears the flag and notifies. */
static __always_inline void wake_now(__u32 *state)
{
	__u64 one = 1;

	*state = READER_POLLING;
	bpf_ringbuf_output(&wake, &one, sizeof(one), BPF_RB_FORCE_WAKEUP);
}

/* wake_reader_if wakes a reader that waits for this event, which was just
 * written to ring. Called after the event's commit (a full barrier): a
 * reader that set the flag before its last look at the rings either saw
 * the event or is woken here. A waiting (not sleeping) reader costs an
 * event that may wake it (fill) a read of the ring's positions, which
 * user space writes: a cache line from the reader's CPU. */
static __always_inline void wake_reader_if(void *ring, bool fill)
{
	__u32 *state = reader_waiting();

	if (!state)
		return;
	if (*state != READER_ASLEEP &&
	    (!fill || bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) < *state))
		return;
	wake_now(state);
}

static __always_inline void wake_reader(void *ring)
{
	wake_reader_if(ring, true);
}

#endif
