package pcapfilter

import (
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

const (
	testStub   = "filter_stub"
	maxPacket  = 2048
	testLenArg = 8 // offset of len in the raw tracepoint context
)

// requireBPF skips loudly when the test cannot load BPF, and fails
// instead under CI=true.
func requireBPF(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("loading BPF programs needs root")
	}
	t.Skip("SKIPPED: loading BPF programs needs root")
}

// testSpec is a raw tracepoint program that calls the stub the way a
// droptrace program will: data read with bpf_probe_read_kernel (so a
// plain number, as BPF_CORE_READ(skb, head) gives), data_end and len from
// the context. The packet sits in an array map, which is kernel memory.
func testSpec(packets *ebpf.MapSpec) *ebpf.CollectionSpec {
	return rawTPSpec(packets, asm.Instructions{
		asm.Call.Label(testStub),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("miss"),
		asm.Return(),
		// The stub as clang would leave it: replaced by Inject.
		asm.Mov.Imm(asm.R0, 0).WithSymbol(testStub),
		asm.Return(),
	})
}

// rawTPSpec builds the program: the argument set-up, then body, which
// starts with R1-R3 holding data, data_end and len and must define
// "miss" (no map value).
func rawTPSpec(packets *ebpf.MapSpec, body asm.Instructions) *ebpf.CollectionSpec {
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1).WithSymbol("main"),
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference("packets"),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "miss"),
		asm.StoreMem(asm.RFP, -16, asm.R0, asm.DWord),
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, -24),
		asm.Mov.Imm(asm.R2, 8),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, -16),
		asm.FnProbeReadKernel.Call(),
		asm.LoadMem(asm.R1, asm.RFP, -24, asm.DWord),
		asm.LoadMem(asm.R2, asm.R6, 0, asm.DWord),
		asm.Add.Reg(asm.R2, asm.R1),
		asm.LoadMem(asm.R3, asm.R6, testLenArg, asm.DWord),
	}
	return &ebpf.CollectionSpec{
		Maps: map[string]*ebpf.MapSpec{"packets": packets},
		Programs: map[string]*ebpf.ProgramSpec{"main": {
			Name: "pcapfilter_test", Type: ebpf.RawTracepoint, License: "GPL",
			Instructions: append(insns, body...),
		}},
	}
}

func packetsSpec() *ebpf.MapSpec {
	return &ebpf.MapSpec{Name: "packets", Type: ebpf.Array, KeySize: 4, ValueSize: maxPacket, MaxEntries: 1}
}

// kernelFilter is one compiled expression loaded into the kernel.
type kernelFilter struct {
	coll    *ebpf.Collection
	packets *ebpf.Map
}

func loadKernelFilter(t *testing.T, expr string, link Link) (*kernelFilter, error) {
	t.Helper()
	insns, err := Compile(expr, link)
	if err != nil {
		return nil, err
	}
	spec := testSpec(packetsSpec())
	if err := Inject(spec, testStub, insns); err != nil {
		return nil, err
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Logf("verifier log for %q (%s):\n%+v", expr, link, ve)
		}
		return nil, err
	}
	t.Cleanup(func() { coll.Close() })
	return &kernelFilter{coll: coll, packets: coll.Maps["packets"]}, nil
}

// match runs the filter on data with BPF_PROG_TEST_RUN.
func (k *kernelFilter) match(t *testing.T, data []byte, wireLen int) bool {
	t.Helper()
	ret := k.run(t, data, wireLen)
	if ret > 1 {
		t.Fatalf("filter returned %d, want 0 or 1", ret)
	}
	return ret == 1
}

func (k *kernelFilter) run(t *testing.T, data []byte, wireLen int) uint32 {
	t.Helper()
	buf := make([]byte, maxPacket)
	copy(buf, data)
	if err := k.packets.Update(uint32(0), buf, ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
	ret, err := k.coll.Programs["main"].Run(&ebpf.RunOptions{Context: []uint64{uint64(len(data)), uint64(wireLen)}})
	if err != nil {
		t.Fatalf("running the filter: %v", err)
	}
	return ret
}

// TestDifferentialKernel loads every corpus expression through the
// verifier of this kernel and compares what the eBPF filter selects with
// what tcpdump selects.
func TestDifferentialKernel(t *testing.T) {
	requireTcpdump(t)
	requireBPF(t)
	runDifferential(t, func(t *testing.T, c capture, expr string) ([]int, error) {
		k, err := loadKernelFilter(t, expr, c.link)
		if err != nil {
			return nil, err
		}
		return k.selectAll(t, c), nil
	})
}

func (k *kernelFilter) selectAll(t *testing.T, c capture) []int {
	t.Helper()
	var sel []int
	for i, data := range c.data {
		if k.match(t, data, len(data)) {
			sel = append(sel, c.indices[i])
		}
	}
	return sel
}

// TestKernelMatchesClassic loads every corpus expression and random
// combinations through the verifier and checks that the eBPF filter
// selects what the classic program selects in x/net/bpf's interpreter.
// It needs no tcpdump, so it also runs in the VM tests on older kernels
// (vmtest/run.sh --pkg ./pcapfilter --run TestKernelMatchesClassic).
func TestKernelMatchesClassic(t *testing.T) {
	requireBPF(t)
	exprs := make([]string, 0, len(corpus))
	for _, e := range corpus {
		exprs = append(exprs, e.expr)
	}
	r := rand.New(rand.NewPCG(14, 2026))
	for range 100 {
		exprs = append(exprs, randomExpr(r, 4))
	}
	loaded := 0
	for _, link := range []Link{Ethernet, RawIP} {
		c := writeCapture(t, link)
		for _, expr := range exprs {
			classic, err := CompileBPF(expr, link)
			if err != nil {
				continue // an L2-only expression on raw IP
			}
			k, err := loadKernelFilter(t, expr, link)
			if err != nil {
				t.Fatalf("%s %q: %v", link, expr, err)
			}
			loaded++
			if got, want := k.selectAll(t, c), vmSelect(t, c, classic); !slices.Equal(got, want) {
				t.Errorf("%s %q: kernel selects %v, classic %v", link, expr, got, want)
			}
		}
	}
	t.Logf("%d filters loaded and agree with the classic interpreter", loaded)
}
