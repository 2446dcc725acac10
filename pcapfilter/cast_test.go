package pcapfilter

import (
	"testing"

	"github.com/cilium/ebpf/asm"
)

// TestCastLoads checks that every packet load of a compiled filter becomes
// a cast load: no bpf_probe_read_kernel call is left, one kfunc call per
// load, and the fault exit goes with the last jump to it.
func TestCastLoads(t *testing.T) {
	call := asm.Instruction{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.Call), Src: asm.PseudoKfuncCall, Constant: -1}.WithReference("bpf_rdonly_cast")
	for _, expr := range []string{"tcp", "host 10.0.0.1 and tcp port 80", "ip6 and udp[2:2] == 53", "tcp[tcpflags] & tcp-syn != 0", "ip[2:2] + 14 == len"} {
		for _, link := range []Link{Ethernet, RawIP} {
			insns, err := Compile(expr, link)
			if err != nil {
				t.Fatal(err)
			}
			helpers := count(insns, func(ins asm.Instruction) bool {
				return ins.IsBuiltinCall() && ins.Constant == int64(asm.FnProbeReadKernel)
			})
			cast := CastLoads(insns, call, 42)
			if n := count(cast, func(ins asm.Instruction) bool { return ins.IsBuiltinCall() }); n != 0 {
				t.Errorf("%q %s: %d helper calls left", expr, link, n)
			}
			if n := count(cast, func(ins asm.Instruction) bool { return ins.IsKfuncCall() }); n != helpers {
				t.Errorf("%q %s: %d cast calls, want %d (one per load)", expr, link, n, helpers)
			}
			if n := count(cast, func(ins asm.Instruction) bool { return ins.Symbol() == labelPrefix+"_"+link.String()+"_fault" }); n != 0 {
				t.Errorf("%q %s: the fault exit is left, with no jump to it", expr, link)
			}
		}
	}
}

func count(insns asm.Instructions, f func(asm.Instruction) bool) int {
	n := 0
	for _, ins := range insns {
		if f(ins) {
			n++
		}
	}
	return n
}
