package tracer

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/ringbuf"
)

// TestMmapRing writes records into a real ring buffer with a BPF program,
// discarded ones among them, round after round so that records wrap past
// the ring's end, and checks that mmapRing reads each written record
// once, in order, and nothing else.
func TestMmapRing(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root for BPF")
		}
		t.Skip("needs root for BPF")
	}
	ring, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: uint32(os.Getpagesize())})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	write := ringWriter(t, ring, false)
	discard := ringWriter(t, ring, true)
	rd, err := newMmapRing(ring)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()

	var rec ringbuf.Record
	next, read := uint64(0), uint64(0)
	for round := range 300 {
		n := 1 + round%97 // at most 97 records of 24 bytes: 2328 of 4096
		for i := range n {
			if i%7 == 3 {
				run(t, discard, 0)
			}
			run(t, write, next)
			next++
		}
		// Discarded records take their space until they are read past.
		if got, want := rd.AvailableBytes(), (n+(n+3)/7)*24; got != want {
			t.Fatalf("round %d: %d bytes available, want %d", round, got, want)
		}
		for {
			err := rd.ReadInto(&rec)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if len(rec.RawSample) != 16 {
				t.Fatalf("round %d: record of %d bytes, want 16", round, len(rec.RawSample))
			}
			if got := binary.NativeEndian.Uint64(rec.RawSample); got != read {
				t.Fatalf("round %d: read record %d, want %d", round, got, read)
			}
			if tag := binary.NativeEndian.Uint64(rec.RawSample[8:]); tag != 0x5eed {
				t.Fatalf("round %d: record %d has tag %#x", round, read, tag)
			}
			read++
		}
		if read != next {
			t.Fatalf("round %d: read %d records, %d written", round, read, next)
		}
		if b := rd.AvailableBytes(); b != 0 {
			t.Fatalf("round %d: %d bytes left after reading everything", round, b)
		}
	}
}

// ringWriter returns an XDP program that writes the first 8 bytes of its
// packet and a tag to ring as one 16-byte record; with discard, it
// reserves a record and discards it instead.
func ringWriter(t *testing.T, ring *ebpf.Map, discard bool) *ebpf.Program {
	t.Helper()
	var insns asm.Instructions
	if discard {
		insns = asm.Instructions{
			asm.LoadMapPtr(asm.R1, ring.FD()),
			asm.Mov.Imm(asm.R2, 16),
			asm.Mov.Imm(asm.R3, 0),
			asm.FnRingbufReserve.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
			asm.Mov.Reg(asm.R1, asm.R0),
			asm.Mov.Imm(asm.R2, 0),
			asm.FnRingbufDiscard.Call(),
			asm.Mov.Imm(asm.R0, 2).WithSymbol("out"),
			asm.Return(),
		}
	} else {
		insns = asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 0, asm.Word), // data
			asm.LoadMem(asm.R3, asm.R1, 4, asm.Word), // data_end
			asm.Mov.Reg(asm.R4, asm.R2),
			asm.Add.Imm(asm.R4, 8),
			asm.JGT.Reg(asm.R4, asm.R3, "out"),
			asm.LoadMem(asm.R5, asm.R2, 0, asm.DWord),
			asm.StoreMem(asm.RFP, -16, asm.R5, asm.DWord),
			asm.Mov.Imm(asm.R5, 0x5eed),
			asm.StoreMem(asm.RFP, -8, asm.R5, asm.DWord),
			asm.LoadMapPtr(asm.R1, ring.FD()),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -16),
			asm.Mov.Imm(asm.R3, 16),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnRingbufOutput.Call(),
			asm.Mov.Imm(asm.R0, 2).WithSymbol("out"),
			asm.Return(),
		}
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.XDP, License: "GPL", Instructions: insns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog
}

// run runs prog once over a frame that starts with v.
func run(t *testing.T, prog *ebpf.Program, v uint64) {
	t.Helper()
	frame := make([]byte, 64)
	binary.NativeEndian.PutUint64(frame, v)
	if _, err := prog.Run(&ebpf.RunOptions{Data: frame}); err != nil {
		t.Fatal(err)
	}
}
