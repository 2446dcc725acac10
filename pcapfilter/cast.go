package pcapfilter

import (
	"strings"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// CastLoads rewrites the packet loads of a filter body that Compile
// produced to read through the bpf_rdonly_cast kfunc (Linux 6.2+) rather
// than bpf_probe_read_kernel: a direct call and one load that the JIT
// guards against faults, instead of a helper that copies to the stack.
//
// call must be a call of bpf_rdonly_cast as the target program makes it
// (taken from one of its instructions: its metadata binds the kfunc for
// the loader); typeID is the kernel BTF id of a type whose first member
// can be read as 1, 2 or 4 bytes at offset 0, such as struct in6_addr
// (a union of byte, 16-bit and 32-bit arrays). A cast load that faults
// reads 0 where the helper would fail the match; both only read below
// data_end, the end of the linear data, where no load faults.
func CastLoads(filter asm.Instructions, call asm.Instruction, typeID btf.TypeID) asm.Instructions {
	var out asm.Instructions
	for i := 0; i < len(filter); i++ {
		if load, ok := probeReadAt(filter, i); ok {
			repl := asm.Instructions{
				asm.Mov.Reg(asm.R1, load.Src),
				asm.Add.Imm(asm.R1, int32(load.Offset)),
				asm.Mov.Imm(asm.R2, int32(typeID)),
				call,
				asm.LoadMem(load.Dst, asm.R0, 0, load.OpCode.Size()),
			}
			repl[0] = repl[0].WithMetadata(filter[i].Metadata)
			out = append(out, repl...)
			i += probeReadLen - 1
			continue
		}
		out = append(out, filter[i])
	}
	return dropUnusedFault(out)
}

// probeReadLen is the length of the sequence probeRead emits for a load,
// without saving and restoring A.
const probeReadLen = 8

// probeReadAt recognises probeRead's sequence at i and returns the load it
// stands for.
func probeReadAt(insns asm.Instructions, i int) (asm.Instruction, bool) {
	if i+probeReadLen > len(insns) {
		return asm.Instruction{}, false
	}
	s := insns[i : i+probeReadLen]
	ok := s[0].OpCode == asm.Mov.Op(asm.RegSource) && s[0].Dst == asm.R1 && s[0].Src == asm.RFP &&
		s[1].OpCode == asm.Add.Op(asm.ImmSource) && s[1].Dst == asm.R1 && s[1].Constant == slotBuf &&
		s[5].IsBuiltinCall() && s[5].Constant == int64(asm.FnProbeReadKernel) &&
		s[7].OpCode.Class().IsLoad() && s[7].Src == asm.RFP && s[7].Offset == slotBuf
	if !ok {
		return asm.Instruction{}, false
	}
	// s[3] is "r3 = src", s[4] "r3 += offset".
	load := s[7]
	load.Src, load.Offset = s[3].Src, int16(s[4].Constant)
	return load, true
}

// dropUnusedFault removes the fault exit once no jump leads to it and the
// instruction before it does not fall through: the verifier refuses
// unreachable instructions.
func dropUnusedFault(insns asm.Instructions) asm.Instructions {
	refs := map[string]bool{}
	for _, ins := range insns {
		if r := ins.Reference(); r != "" {
			refs[r] = true
		}
	}
	out := insns[:0]
	for i, ins := range insns {
		sym := ins.Symbol()
		unused := strings.HasSuffix(sym, "_fault") && !refs[sym]
		if unused && i > 0 && insns[i-1].OpCode.JumpOp() == asm.Ja {
			continue
		}
		out = append(out, ins)
	}
	return out
}
