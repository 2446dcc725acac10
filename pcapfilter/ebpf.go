package pcapfilter

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
	"github.com/cloudflare/cbpfc"
	"golang.org/x/net/bpf"
)

// Registers and stack slots of the filter function; see doc.go.
const (
	regData    = asm.R6 // start of the linear packet data
	regDataEnd = asm.R7 // end of the linear packet data
	regA       = asm.R4 // classic BPF accumulator
	regX       = asm.R8 // classic BPF index register
	regTmp     = asm.R5
	regInd     = asm.R9 // packet pointer for indirect loads

	slotLen   = -8  // packet length, the third argument
	slotBuf   = -16 // bpf_probe_read_kernel's destination
	slotSaveA = -24 // A while a load into X calls the helper
	// stackUsed is what the slots above take; classic scratch memory
	// follows.
	stackUsed = 24
)

// labelPrefix starts every label Compile emits, so Inject can make them
// unique per stub.
const labelPrefix = "pcapfilter"

// Compile compiles a pcap-filter expression into the body of a BPF
// function that takes (data, data_end, len) and returns 1 when the packet
// matches, 0 when it does not (see doc.go for the calling convention).
// Every error it returns for a bad or unsupported expression is an *Error.
func Compile(expr string, link Link) (asm.Instructions, error) {
	classic, err := CompileBPF(expr, link)
	if err != nil {
		return nil, err
	}
	insns, err := toEBPF(classic, labelPrefix+"_"+link.String())
	if err != nil {
		return nil, fmt.Errorf("converting %q to eBPF: %w", expr, err)
	}
	return insns, nil
}

// toEBPF converts a classic program into a filter function body: packet
// loads become bpf_probe_read_kernel calls bounded by data_end, and the
// classic packet length becomes the len argument. Labels start with
// prefix.
func toEBPF(classic []bpf.Instruction, prefix string) (asm.Instructions, error) {
	result, fault, exit := prefix+"_result", prefix+"_fault", prefix+"_exit"
	body, err := cbpfc.ToEBPF(classic, cbpfc.EBPFOpts{
		PacketStart: regData, PacketEnd: regDataEnd,
		Result: asm.R0, ResultLabel: result,
		Working:     [4]asm.Register{regA, regX, regTmp, regInd},
		StackOffset: stackUsed, LabelPrefix: prefix,
	})
	if err != nil {
		return nil, err
	}
	body, faults := rewriteLoads(body, fault)
	insns := append(prologue(), body...)
	if faults {
		insns = append(insns, asm.Mov.Imm(asm.R0, 0).WithSymbol(fault))
	}
	return append(insns,
		asm.JEq.Imm(asm.R0, 0, exit).WithSymbol(result),
		asm.Mov.Imm(asm.R0, 1),
		asm.Return().WithSymbol(exit),
	), nil
}

// prologue moves the arguments where the body expects them and zeroes A
// and X, as classic BPF does.
func prologue() asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(regData, asm.R1),
		asm.Mov.Reg(regDataEnd, asm.R2),
		asm.StoreMem(asm.RFP, slotLen, asm.R3, asm.DWord),
		asm.Mov.Imm(regA, 0),
		asm.Mov.Imm(regX, 0),
	}
}

// rewriteLoads replaces each packet load with a bpf_probe_read_kernel
// into the stack, since packet memory seen from a tracing program is
// kernel memory; a failed read makes the packet not match, like an
// out-of-bounds load in classic BPF. It also replaces cbpfc's packet
// length (data_end - data) with the len argument, which counts the
// non-linear part too.
func rewriteLoads(body asm.Instructions, fault string) (asm.Instructions, bool) {
	var out asm.Instructions
	faults := false
	for i := 0; i < len(body); i++ {
		ins := body[i]
		var repl asm.Instructions
		switch {
		case isLenLoad(body, i):
			repl = asm.Instructions{asm.LoadMem(regA, asm.RFP, slotLen, asm.DWord), asm.Mov.Reg32(regA, regA)}
			i++
		case ins.OpCode.Class().IsLoad() && ins.OpCode.Mode() == asm.MemMode && ins.Src != asm.RFP:
			repl = probeRead(ins, fault)
			faults = true
		default:
			out = append(out, ins)
			continue
		}
		repl[0] = repl[0].WithMetadata(ins.Metadata)
		out = append(out, repl...)
	}
	return out, faults
}

// isLenLoad matches cbpfc's translation of the classic length load:
// A = data_end; A -= data (32 bits).
func isLenLoad(body asm.Instructions, i int) bool {
	if i+1 >= len(body) {
		return false
	}
	a, b := body[i], body[i+1]
	return a.OpCode == asm.Mov.Op(asm.RegSource) && a.Dst == regA && a.Src == regDataEnd &&
		b.OpCode == asm.Sub.Op32(asm.RegSource) && b.Dst == regA && b.Src == regData
}

func probeRead(ins asm.Instruction, fault string) asm.Instructions {
	size := ins.OpCode.Size()
	var out asm.Instructions
	if ins.Dst != regA {
		out = append(out, asm.StoreMem(asm.RFP, slotSaveA, regA, asm.DWord))
	}
	out = append(out,
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, slotBuf),
		asm.Mov.Imm(asm.R2, int32(size.Sizeof())),
		asm.Mov.Reg(asm.R3, ins.Src),
		asm.Add.Imm(asm.R3, int32(ins.Offset)),
		asm.FnProbeReadKernel.Call(),
		asm.JNE.Imm(asm.R0, 0, fault),
		asm.LoadMem(ins.Dst, asm.RFP, slotBuf, size),
	)
	if ins.Dst != regA {
		out = append(out, asm.LoadMem(regA, asm.RFP, slotSaveA, asm.DWord))
	}
	return out
}
