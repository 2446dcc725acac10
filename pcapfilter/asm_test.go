package pcapfilter

import (
	"testing"

	"golang.org/x/net/bpf"
)

// TestLongJumpsGetTrampolines checks that an expression whose
// conditional jumps reach further than 255 instructions still assembles,
// through unconditional jumps, and that the interpreter accepts it.
func TestLongJumpsGetTrampolines(t *testing.T) {
	insns, err := CompileBPF(longExpr(40, "(", " or ", ") and tcp", "port %d"), Ethernet)
	if err != nil {
		t.Fatal(err)
	}
	if len(insns) < 600 {
		t.Fatalf("program has %d instructions, too short to need long jumps", len(insns))
	}
	trampolines := 0
	for _, in := range insns {
		if j, ok := in.(bpf.Jump); ok && j.Skip > 255 {
			trampolines++
		}
	}
	if trampolines == 0 {
		t.Fatal("no jump skips more than 255 instructions")
	}
	if _, err := bpf.NewVM(insns); err != nil {
		t.Fatalf("interpreter refuses the program: %v", err)
	}
}
