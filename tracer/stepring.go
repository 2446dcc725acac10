package tracer

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/droptrace/droptrace/bpf"
)

// The step rings (trace.c): per CPU, a ring of fixed-size slots in the
// memory-mapped array step_ring, each slot a seq word and a path record;
// and per CPU, in step_pos, the head the programs claim slots at and the
// position user space has handed steps on up to.
const (
	slotSeqSize  = 8
	slotDiscard  = 1 << 63 // in seq: the slot holds no step
	ringMargin   = 16      // RING_MARGIN: slots the programs keep free
	minRingSlots = 1 << 10
)

var (
	offPosHead  = unsafe.Offsetof(bpf.TraceRingPos{}.Head)
	offPosCons  = unsafe.Offsetof(bpf.TraceRingPos{}.Cons)
	ringPosSize = unsafe.Sizeof(bpf.TraceRingPos{})
)

// stepGeometry is the shape of the step rings: cpus rings of slots slots
// of size bytes, together about what the drop rings take (ringSize). A
// slot holds a step, and with stack its kernel stack.
type stepGeometry struct {
	cpus  int
	slots uint32 // per CPU: a power of two
	size  uint32 // bytes a slot
}

func newStepGeometry(cpus int, stack bool) stepGeometry {
	rec := offStack
	if stack {
		rec = int(unsafe.Sizeof(bpf.TracePathEvent{}))
	}
	size := uint32(slotSeqSize+rec+7) &^ 7
	slots := uint32(minRingSlots)
	for uint64(slots)*2*uint64(size) <= uint64(ringSize(cpus)) {
		slots *= 2
	}
	return stepGeometry{cpus: cpus, slots: slots, size: size}
}

// apply sizes spec's step maps and sets the constants the programs
// address them with.
func (g stepGeometry) apply(spec *ebpf.CollectionSpec) error {
	ring, pos := spec.Maps[bpf.TraceMapStepRing], spec.Maps[bpf.TraceMapStepPos]
	if ring == nil || pos == nil {
		return errors.New("BPF object has no step ring")
	}
	ring.ValueSize = g.size
	ring.MaxEntries = uint32(g.cpus) * g.slots
	pos.MaxEntries = uint32(g.cpus)
	return setConstants(spec, map[string]any{
		bpf.TraceVarCfgRingSlots: g.slots,
		bpf.TraceVarCfgSlotSize:  g.size,
	})
}

// stepSeenLost reads the counts of a trace object, whose programs count
// a step seen in STAT_SEEN only when they find no slot for it: the steps
// that took a slot are what the heads of the rings passed.
func stepSeenLost(stats, pos *ebpf.Map) (seen, lost uint64, err error) {
	if seen, lost, err = seenLost(stats); err != nil {
		return 0, 0, err
	}
	var p bpf.TraceRingPos
	for cpu := range pos.MaxEntries() {
		if err := pos.Lookup(cpu, &p); err != nil {
			return 0, 0, fmt.Errorf("reading the step rings' heads: %w", err)
		}
		seen += p.Head
	}
	return seen, lost, nil
}

// stepRings are the mappings of step_ring and step_pos that the readers
// of every CPU's ring share.
type stepRings struct {
	ring, pos []byte
	readers   []ringReader
}

// openStepRings maps the step maps and returns a reader per CPU.
func openStepRings(ring, pos *ebpf.Map, g stepGeometry) (*stepRings, error) {
	ringBytes := int(g.slots) * int(g.size) * g.cpus
	if int(ring.ValueSize()) != int(g.size) || int(ring.MaxEntries()) != int(g.slots)*g.cpus {
		return nil, fmt.Errorf("step ring map %v does not have %d slots of %d bytes", ring, int(g.slots)*g.cpus, g.size)
	}
	page := os.Getpagesize()
	rm, err := unix.Mmap(ring.FD(), 0, (ringBytes+page-1)/page*page, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping the step rings: %w", err)
	}
	posBytes := int(ringPosSize) * g.cpus
	pm, err := unix.Mmap(pos.FD(), 0, (posBytes+page-1)/page*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Munmap(rm)
		return nil, fmt.Errorf("mapping the step rings' positions: %w", err)
	}
	s := &stepRings{ring: rm, pos: pm}
	per := int(g.slots) * int(g.size)
	for cpu := range g.cpus {
		p := pm[cpu*int(ringPosSize):]
		r := &slotRing{
			slots: rm[cpu*per : (cpu+1)*per : (cpu+1)*per],
			head:  (*uint64)(unsafe.Pointer(&p[offPosHead])),
			size:  uint64(g.size),
			mask:  uint64(g.slots - 1),
		}
		r.start((*uint64)(unsafe.Pointer(&p[offPosCons])))
		s.readers = append(s.readers, r)
	}
	return s, nil
}

// Close unmaps the rings: their readers' records are invalid after.
func (s *stepRings) Close() error {
	if s.ring == nil {
		return nil
	}
	err := unmap(s.ring, s.pos)
	s.ring, s.pos, s.readers = nil, nil, nil
	return err
}

// slotRing reads one CPU's step ring in place, as mmapRing reads a ring
// buffer: the head is loaded once a drain, each slot's seq says whether
// it was written, and the consumer's position is stored once a drain.
// Positions are slot indices.
type slotRing struct {
	readCursor         // positions are slot indices; cons is in step_pos
	slots      []byte  // this CPU's slots
	head       *uint64 // in step_pos: the programs' head
	size       uint64  // bytes a slot
	mask       uint64
}

// AvailableBytes is what the ring holds that was not read: slots claimed,
// written or not.
func (r *slotRing) AvailableBytes() int {
	return int((atomic.LoadUint64(r.head) - r.pos) * r.size)
}

// BufferSize is the ring's size in bytes.
func (r *slotRing) BufferSize() int { return int((r.mask + 1) * r.size) }

// Begin starts a drain: Next returns what was claimed by now.
func (r *slotRing) Begin() { r.end = atomic.LoadUint64(r.head) }

// Next returns the next step record (the slot past its seq), valid until
// Release passes end, or errDrained at a slot not written yet.
func (r *slotRing) Next() (raw []byte, end uint64, err error) {
	for r.pos < r.end {
		off := (r.pos & r.mask) * r.size
		// The atomic load orders seq before the record's bytes: the
		// programs store it after them (commit_slot).
		seq := atomic.LoadUint64((*uint64)(unsafe.Pointer(&r.slots[off])))
		if seq&^slotDiscard != r.pos+1 {
			return nil, 0, errDrained // claimed, not written yet: the next drain reads it
		}
		r.pos++
		if seq&slotDiscard != 0 {
			continue
		}
		return r.slots[off+slotSeqSize : off+r.size : off+r.size], r.pos, nil
	}
	return nil, 0, errDrained
}

// Close does nothing: stepRings owns the mappings.
func (r *slotRing) Close() error { return nil }
