package tracer

import (
	"testing"

	"github.com/cilium/ebpf"

	"github.com/droptrace/droptrace/bpf"
)

// stubLen is how many instructions the stub named stub has in prog.
func stubLen(prog *ebpf.ProgramSpec, stub string) int {
	n, in := 0, false
	for _, ins := range prog.Instructions {
		if sym := ins.Symbol(); sym != "" {
			in = sym == stub || (in && len(sym) > 11 && sym[:11] == "pcapfilter_")
		}
		if in {
			n++
		}
	}
	return n
}

// TestInjectExpr checks that an expression replaces both stubs of every
// drop and trace program that calls them, and that an expression that
// needs the link layer leaves an L3 stub that returns 0.
func TestInjectExpr(t *testing.T) {
	for _, load := range []func() (*ebpf.CollectionSpec, error){bpf.LoadDrop, bpf.LoadTrace} {
		spec, err := load()
		if err != nil {
			t.Fatal(err)
		}
		before := 0
		for _, prog := range spec.Programs {
			before = max(before, stubLen(prog, stubL2))
		}
		if before == 0 {
			t.Fatal("no program calls the L2 stub")
		}
		if err := InjectExpr(spec, "vlan 100 and tcp"); err != nil {
			t.Fatal(err)
		}
		for name, prog := range spec.Programs {
			l2, l3 := stubLen(prog, stubL2), stubLen(prog, stubL3)
			if l2 == 0 {
				continue
			}
			if l2 <= before {
				t.Errorf("%s: the L2 stub has %d instructions, as before the injection", name, l2)
			}
			if l3 != len(matchNothing()) {
				t.Errorf("%s: the L3 stub has %d instructions, want %d (match nothing)", name, l3, len(matchNothing()))
			}
		}
	}
}

func TestInjectExprBad(t *testing.T) {
	spec, err := bpf.LoadDrop()
	if err != nil {
		t.Fatal(err)
	}
	if err := InjectExpr(spec, "tcp and"); err == nil {
		t.Error("injecting a bad expression: no error")
	}
}
