package tracer

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

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
		if err := InjectExpr(spec, "vlan 100 and tcp", nil); err != nil {
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
	if err := InjectExpr(spec, "tcp and", nil); err == nil {
		t.Error("injecting a bad expression: no error")
	}
}

// TestInjectExprCast checks that on a kernel with bpf_rdonly_cast (6.2+)
// the injected filters read the packet through it, with no
// bpf_probe_read_kernel call left, and through the helper without BTF.
func TestInjectExprCast(t *testing.T) {
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Skipf("SKIPPED: no kernel BTF: %v", err)
	}
	var fn *btf.Func
	if kspec.TypeByName("bpf_rdonly_cast", &fn) != nil {
		t.Skip("SKIPPED: this kernel has no bpf_rdonly_cast (6.2+)")
	}
	for _, tt := range []struct {
		kspec          *btf.Spec
		casts, helpers bool
	}{{kspec, true, false}, {nil, false, true}} {
		spec, err := bpf.LoadDrop()
		if err != nil {
			t.Fatal(err)
		}
		before := countCalls(spec.Programs[bpf.DropProgKfreeSkbBtf])
		if err := InjectExpr(spec, "tcp[tcpflags] & tcp-syn != 0 and net 10.0.0.0/8", tt.kspec); err != nil {
			t.Fatal(err)
		}
		after := countCalls(spec.Programs[bpf.DropProgKfreeSkbBtf])
		casts, helpers := after.casts, after.helpers
		if (casts > before.casts) != tt.casts || (helpers > before.helpers) != tt.helpers {
			t.Errorf("kernel BTF %v: %d casts and %d probe reads, from %+v", tt.kspec != nil, casts, helpers, before)
		}
	}
}

type calls struct{ casts, helpers int }

func countCalls(prog *ebpf.ProgramSpec) calls {
	var c calls
	for _, ins := range prog.Instructions {
		switch {
		case ins.IsKfuncCall() && ins.Reference() == "bpf_rdonly_cast":
			c.casts++
		case ins.IsBuiltinCall() && ins.Constant == int64(asm.FnProbeReadKernel):
			c.helpers++
		}
	}
	return c
}
