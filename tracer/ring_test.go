package tracer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// ringWriter writes records to a real ring buffer map with BPF programs
// run through BPF_PROG_TEST_RUN: out writes the value put in val, skip
// reserves a record and discards it.
type ringWriter struct {
	ring, val *ebpf.Map
	out, skip *ebpf.Program
}

// testRecLen is the bytes of a test record: 48 in the ring with its
// header.
const testRecLen = 40

func newRingWriter(t *testing.T, size uint32) *ringWriter {
	t.Helper()
	requireRoot(t)
	ring, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: size})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ring.Close() })
	val, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: testRecLen, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { val.Close() })
	w := &ringWriter{ring: ring, val: val}
	w.out = w.load(t, asm.Instructions{
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, val.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.LoadMapPtr(asm.R1, ring.FD()),
		asm.Mov.Reg(asm.R2, asm.R0),
		asm.Mov.Imm(asm.R3, testRecLen),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnRingbufOutput.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
		asm.Return(),
	})
	w.skip = w.load(t, asm.Instructions{
		asm.LoadMapPtr(asm.R1, ring.FD()),
		asm.Mov.Imm(asm.R2, testRecLen),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.Mov.Reg(asm.R1, asm.R0),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRingbufDiscard.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
		asm.Return(),
	})
	return w
}

func (w *ringWriter) load(t *testing.T, insns asm.Instructions) *ebpf.Program {
	t.Helper()
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SocketFilter, Instructions: insns, License: "Dual BSD/GPL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// testRecord is the record write writes for v: v, then bytes that
// follow from it.
func testRecord(v uint64) []byte {
	b := make([]byte, testRecLen)
	binary.NativeEndian.PutUint64(b, v)
	for i := 8; i < len(b); i++ {
		b[i] = byte(v) + byte(i)
	}
	return b
}

// write writes testRecord(v).
func (w *ringWriter) write(t *testing.T, v uint64) {
	t.Helper()
	b := testRecord(v)
	if err := w.val.Update(uint32(0), b, ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
	w.run(t, w.out)
}

func (w *ringWriter) run(t *testing.T, p *ebpf.Program) {
	t.Helper()
	if _, err := p.Run(&ebpf.RunOptions{Data: make([]byte, 14)}); err != nil {
		t.Fatal(err)
	}
}

// drain reads what r holds, one drain, passing each record and its end
// to each.
func drain(t *testing.T, r ringReader, each func(raw []byte, end uint64)) {
	t.Helper()
	r.Begin()
	for {
		raw, end, err := r.Next()
		if errors.Is(err, errDrained) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		each(raw, end)
	}
}

// readAll drains r and returns each record's first 8 bytes and end.
func readAll(t *testing.T, r *mmapRing) (vals, ends []uint64) {
	t.Helper()
	drain(t, r, func(raw []byte, end uint64) {
		v := binary.NativeEndian.Uint64(raw)
		if !bytes.Equal(raw, testRecord(v)) {
			t.Fatalf("record ending at %d: % x, want % x", end, raw, testRecord(v))
		}
		vals = append(vals, v)
		ends = append(ends, end)
	})
	return vals, ends
}

// TestMmapRing reads a real ring buffer through mmapRing: records in
// order, discarded ones skipped, the ring's space given back only by
// Release, and records that wrap around the ring's end read whole.
func TestMmapRing(t *testing.T) {
	page := uint32(os.Getpagesize())
	w := newRingWriter(t, page)
	r, err := newMmapRing(w.ring)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const stride = 8 + testRecLen
	w.write(t, 1)
	w.write(t, 2)
	w.run(t, w.skip)
	w.write(t, 3)
	if got := r.AvailableBytes(); got != 4*stride {
		t.Fatalf("AvailableBytes %d, want %d", got, 4*stride)
	}
	vals, ends := readAll(t, r)
	if len(vals) != 3 || vals[0] != 1 || vals[1] != 2 || vals[2] != 3 {
		t.Fatalf("read %v, want [1 2 3] (the discarded record skipped)", vals)
	}
	if ends[2] != 4*stride || r.Cursor() != 4*stride {
		t.Fatalf("ends %v, cursor %d: want the last at %d", ends, r.Cursor(), 4*stride)
	}
	if got := r.AvailableBytes(); got != 0 {
		t.Fatalf("AvailableBytes %d after reading everything, want 0", got)
	}

	// Not released: the ring fills with what fits beside the four.
	fits := int(page / stride)
	for i := range fits {
		w.write(t, uint64(100+i))
	}
	vals, _ = readAll(t, r)
	if len(vals) != fits-4 {
		t.Fatalf("read %d records with nothing released, want %d (a ring of %d bytes holds %d)", len(vals), fits-4, page, fits)
	}
	// Released: the rest fit, the last ones across the ring's end.
	r.Release(r.Cursor())
	for i := range 4 {
		w.write(t, uint64(200+i))
	}
	vals, ends = readAll(t, r)
	if len(vals) != 4 || vals[0] != 200 || vals[3] != 203 {
		t.Fatalf("after Release read %v, want [200 201 202 203]", vals)
	}
	wrapped := false
	for _, end := range ends {
		start := end - testRecLen // the data, after the header
		wrapped = wrapped || start/uint64(page) != (end-1)/uint64(page)
	}
	if !wrapped {
		t.Fatalf("ends %v: no record's data crossed the end of the %d-byte ring", ends, page)
	}
}
