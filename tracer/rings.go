package tracer

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// Per-CPU ring sizes: together about ringsTotal, each between the bounds.
// One CPU can drop a million packets a second; at 144 bytes a record, the
// smallest ring holds the 10 ms between two reads of it. On a machine of
// one or two CPUs, where droptrace shares them with the packets, each
// ring holds 16 MiB: 110,000 events, a storm's 200 ms while the reader
// waits for a CPU.
const (
	ringsTotal  = 32 << 20
	ringMinSize = 1 << 20
	ringMaxSize = 16 << 20
)

// ringSize is the size of each of n per-CPU rings: a power of two, as the
// kernel requires.
func ringSize(n int) uint32 {
	size := uint32(ringMaxSize)
	for size > ringMinSize && uint64(size)*uint64(n) > ringsTotal {
		size /= 2
	}
	return size
}

// newRings creates a ring buffer per possible CPU and puts them in
// spec's map outerName (cpu_events in rings.h), which the drop and TCP
// programs write to. (Path steps have rings of their own: stepring.go.)
func newRings(spec *ebpf.CollectionSpec, outerName string) ([]*ebpf.Map, error) {
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("counting CPUs: %w", err)
	}
	outer := spec.Maps[outerName]
	outer.MaxEntries = uint32(cpus)
	outer.InnerMap.MaxEntries = ringSize(cpus)
	rings := make([]*ebpf.Map, 0, cpus)
	outer.Contents = nil
	for cpu := range cpus {
		m, err := ebpf.NewMap(outer.InnerMap)
		if err != nil {
			closeAll(rings)
			return nil, fmt.Errorf("creating the ring buffer of CPU %d: %w", cpu, err)
		}
		rings = append(rings, m)
		outer.Contents = append(outer.Contents, ebpf.MapKV{Key: uint32(cpu), Value: m})
	}
	return rings, nil
}

func closeAll(maps []*ebpf.Map) {
	for _, m := range maps {
		m.Close()
	}
}
