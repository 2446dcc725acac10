package pcapfilter

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// twoStubSpec calls an L2 stub on the frame and an L3 stub on the frame
// past its Ethernet header, and returns l2<<1 | l3 through a function
// after the stubs, which must survive the injection.
func twoStubSpec() *ebpf.CollectionSpec {
	return rawTPSpec(packetsSpec(), asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.Mov.Reg(asm.R7, asm.R2),
		asm.Mov.Reg(asm.R8, asm.R3),
		asm.Call.Label("stub_l2"),
		asm.Mov.Reg(asm.R9, asm.R0),
		asm.LSh.Imm(asm.R9, 1),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Add.Imm(asm.R1, 14),
		asm.Mov.Reg(asm.R2, asm.R7),
		asm.Mov.Reg(asm.R3, asm.R8),
		asm.Add.Imm(asm.R3, -14),
		asm.Call.Label("stub_l3"),
		asm.Or.Reg(asm.R0, asm.R9),
		asm.Mov.Reg(asm.R1, asm.R0),
		asm.Call.Label("after"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("miss"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("stub_l2"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("stub_l3"),
		asm.Return(),
		// after returns its argument.
		asm.Mov.Reg(asm.R0, asm.R1).WithSymbol("after"),
		asm.Return(),
	})
}

func TestInjectWithoutStub(t *testing.T) {
	insns, err := Compile("tcp", Ethernet)
	if err != nil {
		t.Fatal(err)
	}
	spec := testSpec(packetsSpec())
	if err := Inject(spec, "no_such_stub", insns); !errors.Is(err, ErrNoStub) {
		t.Fatalf("got %v, want ErrNoStub", err)
	}
}

// TestInjectTwoFilters checks the layout Inject leaves: each stub keeps
// its symbol, labels are unique, and the function after the stubs keeps
// its instructions.
func TestInjectTwoFilters(t *testing.T) {
	spec := injectBoth(t, "tcp port 80")
	insns := spec.Programs["main"].Instructions
	seen := map[string]bool{}
	for _, ins := range insns {
		if sym := ins.Symbol(); sym != "" {
			if seen[sym] {
				t.Fatalf("symbol %s defined twice", sym)
			}
			seen[sym] = true
		}
	}
	for _, sym := range []string{"main", "stub_l2", "stub_l3", "after", "pcapfilter_stub_l2_result", "pcapfilter_stub_l3_result"} {
		if !seen[sym] {
			t.Errorf("symbol %s missing after injection", sym)
		}
	}
	last := insns[len(insns)-2:]
	if last[0].Symbol() != "after" || last[0].OpCode != asm.Mov.Op(asm.RegSource) || last[1].OpCode != asm.Return().OpCode {
		t.Errorf("function after the stubs changed: %v", last)
	}
}

func injectBoth(t *testing.T, expr string) *ebpf.CollectionSpec {
	t.Helper()
	spec := twoStubSpec()
	for stub, link := range map[string]Link{"stub_l2": Ethernet, "stub_l3": RawIP} {
		insns, err := Compile(expr, link)
		if err != nil {
			t.Fatal(err)
		}
		if err := Inject(spec, stub, insns); err != nil {
			t.Fatal(err)
		}
	}
	return spec
}

// TestKernelTwoFiltersInOneProgram loads an L2 and an L3 filter into one
// program and checks that both see the same packet the same way.
func TestKernelTwoFiltersInOneProgram(t *testing.T) {
	requireBPF(t)
	coll, err := ebpf.NewCollection(injectBoth(t, "tcp port 80"))
	if err != nil {
		t.Fatalf("%+v", err)
	}
	defer coll.Close()
	k := &kernelFilter{coll: coll, packets: coll.Maps["packets"]}
	pkts := testPackets()
	for _, tt := range []struct {
		pkt  testPacket
		want uint32
	}{{pkts[0], 3}, {pkts[7], 0}, {pkts[17], 3}} {
		if got := k.run(t, tt.pkt.frame, len(tt.pkt.frame)); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.pkt.name, got, tt.want)
		}
	}
}

// TestKernelLinearDataAndLength checks the two arguments that differ
// from a capture file: len may exceed the linear data (a non-linear skb),
// and loads beyond data_end make the packet not match, as out-of-bounds
// loads do in classic BPF.
func TestKernelLinearDataAndLength(t *testing.T) {
	requireBPF(t)
	syn := testPackets()[0].frame
	tests := []struct {
		expr      string
		linear    int
		wire      int
		wantMatch bool
	}{
		{"greater 1000", len(syn), 1500, true},
		{"less 200", len(syn), 1500, false},
		{"len == 1500", len(syn), 1500, true},
		{"tcp port 80", len(syn), len(syn), true},
		{"tcp port 80", 36, len(syn), false},        // TCP ports past data_end
		{"ip and len > 30", 30, len(syn), true},     // no load past data_end
		{"tcp[13] == 2", 14 + 20 + 13, 1500, false}, // flags byte just past data_end
		{"tcp[13] == 2", 14 + 20 + 14, 1500, true},
	}
	for _, tt := range tests {
		k, err := loadKernelFilter(t, tt.expr, Ethernet)
		if err != nil {
			t.Fatalf("%q: %v", tt.expr, err)
		}
		if got := k.match(t, syn[:tt.linear], tt.wire); got != tt.wantMatch {
			t.Errorf("%q with %d linear bytes of %d: match %v, want %v", tt.expr, tt.linear, tt.wire, got, tt.wantMatch)
		}
	}
}
