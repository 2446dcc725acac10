package tracer

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/droptrace/droptrace/bpf"
)

// stepWriter runs the trace object's raw_tp start program through
// BPF_PROG_TEST_RUN on CPU 0, with no filter: each run with a new address
// starts a path and writes its first step to the step ring, as a
// tracepoint's skb would. Reads of the address, not a kernel one, read 0.
type stepWriter struct {
	coll *ebpf.Collection
	prog *ebpf.Program
	g    stepGeometry
	next uint64 // the next address
}

func newStepWriter(t *testing.T, slots uint32) *stepWriter {
	t.Helper()
	requireRoot(t)
	spec, err := bpf.LoadTrace()
	if err != nil {
		t.Fatal(err)
	}
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	g := newStepGeometry(cpus, false)
	g.slots = slots
	if err := g.apply(spec); err != nil {
		t.Fatal(err)
	}
	const name = bpf.TraceProgRawTpStart1
	cs := spec.Copy()
	cs.Programs = map[string]*ebpf.ProgramSpec{name: spec.Programs[name]}
	coll, err := ebpf.NewCollection(cs)
	if err != nil {
		// bpf_rdonly_cast, which the raw_tp programs use, is 6.2+.
		if os.Getenv("CI") != "true" && errors.Is(err, ebpf.ErrNotSupported) {
			t.Skipf("SKIPPED: loading %s: %v", name, err)
		}
		t.Fatalf("loading %s: %v", name, err)
	}
	t.Cleanup(func() { coll.Close() })
	return &stepWriter{coll: coll, prog: coll.Programs[name], g: g, next: 0x1000}
}

// write runs the program n times, each with a new address, and returns
// the first address.
func (w *stepWriter) write(t *testing.T, n int) uint64 {
	t.Helper()
	first := w.next
	ctx := make([]byte, 8)
	for range n {
		binary.NativeEndian.PutUint64(ctx, w.next)
		w.next += 0x100
		if _, err := w.prog.Run(&ebpf.RunOptions{Context: ctx, CPU: 0, Flags: unix.BPF_F_TEST_RUN_ON_CPU}); err != nil {
			t.Fatal(err)
		}
	}
	return first
}

func (w *stepWriter) lost(t *testing.T) uint64 {
	t.Helper()
	_, lost := w.counts(t)
	return lost
}

// counts is what the object counts seen and lost (PathTracer.Stats).
func (w *stepWriter) counts(t *testing.T) (seen, lost uint64) {
	t.Helper()
	seen, lost, err := stepSeenLost(w.coll.Maps[bpf.TraceMapStats], w.coll.Maps[bpf.TraceMapStepPos])
	if err != nil {
		t.Fatal(err)
	}
	return seen, lost
}

// readSteps drains r and returns each step's skb.
func readSteps(t *testing.T, r ringReader) []uint64 {
	t.Helper()
	var skbs []uint64
	drain(t, r, func(raw []byte, _ uint64) {
		if len(raw) < offStack {
			t.Fatalf("step of %d bytes, want at least %d", len(raw), offStack)
		}
		skbs = append(skbs, binary.NativeEndian.Uint64(raw[unsafe.Offsetof(bpf.TracePathEvent{}.Ev.Skb):]))
	})
	return skbs
}

// TestStepRing writes steps with the real trace program and reads them
// through slotRing: in order, a full ring counting the steps it refuses
// as lost, the space given back only by Release, and the slots reused
// across the ring's end once the programs see it released.
func TestStepRing(t *testing.T) {
	const slots = 1 << 10
	w := newStepWriter(t, slots)
	rings, err := openStepRings(w.coll.Maps[bpf.TraceMapStepRing], w.coll.Maps[bpf.TraceMapStepPos], w.g)
	if err != nil {
		t.Fatal(err)
	}
	defer rings.Close()
	r := rings.readers[0]

	first := w.write(t, 3)
	if got, want := r.AvailableBytes(), 3*int(w.g.size); got != want {
		t.Fatalf("AvailableBytes %d, want %d", got, want)
	}
	got := readSteps(t, r)
	if len(got) != 3 || got[0] != first || got[2] != first+0x200 {
		t.Fatalf("read skbs %#x, want %#x and the next two", got, first)
	}
	if lost := w.lost(t); lost != 0 {
		t.Fatalf("%d steps lost with the ring almost empty", lost)
	}

	// Nothing released: the ring takes what fits beside the three, less
	// the margin kept for nested programs, and counts the rest lost.
	fits := slots - ringMargin - 3
	first = w.write(t, fits+100)
	got = readSteps(t, r)
	if len(got) != fits || got[0] != first || got[fits-1] != first+uint64(fits-1)*0x100 {
		t.Fatalf("read %d steps from %#x with nothing released, want %d from %#x", len(got), got[:min(len(got), 1)], fits, first)
	}
	if lost := w.lost(t); lost != 100 {
		t.Fatalf("%d steps counted lost, want the 100 the full ring refused", lost)
	}

	// Released: the programs read the new position once they reach their
	// limit, and the next steps take the slots past the ring's end.
	r.Release(r.Cursor())
	first = w.write(t, 200)
	got = readSteps(t, r)
	if len(got) != 200 || got[0] != first || got[199] != first+199*0x100 {
		t.Fatalf("after Release read %d steps, want 200 from %#x", len(got), first)
	}
	if end := r.Cursor(); end <= slots {
		t.Fatalf("cursor %d after Release: the steps did not pass the ring's end (%d slots)", end, slots)
	}
	if lost := w.lost(t); lost != 100 {
		t.Fatalf("%d steps counted lost after Release, want still 100", lost)
	}
	// Seen: every run, those that took a slot (the heads) and those
	// refused one (STAT_SEEN).
	if seen, _ := w.counts(t); seen != uint64(3+fits+100+200) {
		t.Fatalf("%d steps counted seen, want the %d runs", seen, 3+fits+100+200)
	}
}

// TestSlotRingSeq checks how slotRing reads seq: a slot claimed but not
// yet written stops the drain until it is; a discarded one is skipped.
func TestSlotRingSeq(t *testing.T) {
	const slots, size = 4, 64
	mem := make([]byte, slots*size)
	var head, cons uint64
	r := &slotRing{slots: mem, head: &head, size: size, mask: slots - 1}
	r.start(&cons)
	put := func(i, seq uint64) {
		binary.NativeEndian.PutUint64(mem[(i&(slots-1))*size:], seq)
		binary.NativeEndian.PutUint64(mem[(i&(slots-1))*size+slotSeqSize:], 1000+i) // the step's ts
	}
	read := func() []uint64 {
		var ts []uint64
		drain(t, r, func(raw []byte, _ uint64) {
			if len(raw) != size-slotSeqSize {
				t.Fatalf("record of %d bytes, want %d", len(raw), size-slotSeqSize)
			}
			ts = append(ts, binary.NativeEndian.Uint64(raw))
		})
		return ts
	}
	head = 3
	put(0, 1)
	put(2, 3) // slot 1 claimed, not written
	if got := read(); len(got) != 1 || got[0] != 1000 {
		t.Fatalf("read %v, want [1000], stopping at the slot not written", got)
	}
	put(1, 2|slotDiscard)
	if got := read(); len(got) != 1 || got[0] != 1002 {
		t.Fatalf("read %v, want [1002], the discarded slot skipped", got)
	}
	r.Release(r.Cursor())
	if cons != 3 {
		t.Fatalf("cons %d after Release, want 3", cons)
	}
	// Slot 3 and, across the end, slot 4 (at 0); slot 0's old seq (1)
	// does not pass for index 4's.
	head = 5
	put(3, 4)
	if got := read(); len(got) != 1 || got[0] != 1003 {
		t.Fatalf("read %v, want [1003], stopping at index 4 whose slot holds index 0's seq", got)
	}
	put(4, 5)
	if got := read(); len(got) != 1 || got[0] != 1004 {
		t.Fatalf("read %v, want [1004]", got)
	}
}
