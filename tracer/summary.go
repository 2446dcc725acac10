package tracer

import (
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/cilium/ebpf"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/event"
)

// DefaultSummaryKeys bounds the kernel's summary map: drops of keys beyond
// it are counted as overflow (see SummaryOverflow).
const DefaultSummaryKeys = 16384

// maxDevices bounds the kernel's map of device names seen in summaries.
const maxDevices = 4096

// sizeMaps sizes the maps for the mode: summary mode needs no ring buffer
// and event mode no summary, so each gets the smallest the kernel takes.
func sizeMaps(spec *ebpf.CollectionSpec, cfg Config) {
	summary, ifnames := spec.Maps[bpf.DropMapSummary], spec.Maps[bpf.DropMapIfnames]
	if !cfg.Summary {
		summary.MaxEntries, ifnames.MaxEntries = 1, 1
		return
	}
	keys := cfg.SummaryKeys
	if keys <= 0 {
		keys = DefaultSummaryKeys
	}
	summary.MaxEntries, ifnames.MaxEntries = uint32(keys), maxDevices
}

// SummaryOverflow returns how many drops matched but were not counted in
// summary mode because the summary map was full.
func (t *Tracer) SummaryOverflow() (uint64, error) {
	return sumPerCPU(t.coll.Maps[bpf.DropMapStats], uint32(bpf.DropStatIndexSTAT_SUMMARY_OVERFLOW))
}

// summaryBatch is how many keys one batch lookup reads.
const summaryBatch = 1024

// SummaryCounts reads the kernel's drop counts in summary mode, summed over
// CPUs, with reasons, locations and device names resolved by the decoder.
func (t *Tracer) SummaryCounts() (event.Counts, error) {
	names, err := t.deviceNames()
	if err != nil {
		return nil, err
	}
	raw, err := t.rawSummary()
	if err != nil {
		return nil, err
	}
	counts := make(event.Counts, len(raw))
	for k, n := range raw {
		counts[t.dec.summaryKey(k, names[bpf.DropDevKey{Netns: k.Netns, Ifindex: k.Ifindex}])] += n
	}
	return counts, nil
}

// summaryState is what the last read of the kernel's counts returned.
// Readers (the summary loop, a metrics scrape) may overlap, hence the lock.
type summaryState struct {
	mu   sync.Mutex
	last map[bpf.DropSummaryKey]uint64
}

// rawSummary reads the kernel's counts per key: the summary map's, summed
// over CPUs, plus the run of drops each CPU has not moved into the map yet
// (summary_last). A run can move into the map between the two reads and
// be missed once; since counts only grow, a count lower than the last one
// read is such a miss, and the last one is returned instead. The final
// read, after detaching, is exact.
func (t *Tracer) rawSummary() (map[bpf.DropSummaryKey]uint64, error) {
	out, err := t.summaryMap()
	if err != nil {
		return nil, err
	}
	var pending []bpf.DropSummaryPending
	if err := t.coll.Maps[bpf.DropMapSummaryLast].Lookup(uint32(0), &pending); err != nil {
		return nil, fmt.Errorf("reading the summary's pending drops: %w", err)
	}
	return t.summary.merge(out, pending), nil
}

// merge adds to out, the summary map's counts, the runs each CPU has not
// moved into the map yet, and keeps every count at least the last one
// returned.
func (st *summaryState) merge(out map[bpf.DropSummaryKey]uint64, pending []bpf.DropSummaryPending) map[bpf.DropSummaryKey]uint64 {
	for _, p := range pending {
		if p.Count > 0 {
			out[p.Key] += p.Count
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, last := range st.last {
		if out[k] < last {
			out[k] = last
		}
	}
	st.last = maps.Clone(out)
	return out
}

// summaryMap reads the summary map in batches, summing the per-CPU values.
func (t *Tracer) summaryMap() (map[bpf.DropSummaryKey]uint64, error) {
	m := t.coll.Maps[bpf.DropMapSummary]
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("counting CPUs: %w", err)
	}
	keys := make([]bpf.DropSummaryKey, summaryBatch)
	vals := make([]uint64, summaryBatch*cpus)
	out := make(map[bpf.DropSummaryKey]uint64)
	var cursor ebpf.MapBatchCursor
	for {
		n, err := m.BatchLookup(&cursor, keys, vals, nil)
		for i := range n {
			for _, v := range vals[i*cpus : (i+1)*cpus] {
				out[keys[i]] += v
			}
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the summary map: %w", err)
		}
	}
}

func (t *Tracer) deviceNames() (map[bpf.DropDevKey]string, error) {
	names := make(map[bpf.DropDevKey]string)
	var k bpf.DropDevKey
	var v [16]int8
	it := t.coll.Maps[bpf.DropMapIfnames].Iterate()
	for it.Next(&k, &v) {
		names[k] = cString(v[:])
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading device names: %w", err)
	}
	return names, nil
}

// summaryKey names a kernel summary key.
func (d *Decoder) summaryKey(k bpf.DropSummaryKey, ifname string) event.SummaryKey {
	key := event.SummaryKey{
		ReasonCode:   k.Reason,
		LocationAddr: k.Location,
		Netns:        k.Netns,
		Ifindex:      k.Ifindex,
		Ifname:       ifname,
	}
	if k.L4proto != 0 {
		key.Proto = protoName(k.L4proto)
	}
	if d.Reasons != nil {
		key.Reason = d.Reasons.Name(k.Reason)
	}
	if d.Symbols != nil {
		key.Location = d.Symbols.Symbolize(k.Location)
	}
	return key
}
