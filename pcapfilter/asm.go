package pcapfilter

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// acceptValue is what the classic program returns for a match; tcpdump
// returns its snapshot length, 262144.
const acceptValue = 262144

// maxClassic is the kernel's limit on a classic program (BPF_MAXINSNS).
const maxClassic = 4096

// op is one step of the classic program before jump offsets are known:
// an instruction, a label, or a jump to labels.
type op struct {
	insn  bpf.Instruction // plain instruction; nil for labels and jumps
	label string          // label defined here (insn == nil, not a jump)
	jump  bool
	cond  bpf.JumpTest // for conditional jumps
	useX  bool         // compare A with X instead of val
	val   uint32
	t, f  string // targets; an unconditional jump uses t
	uncon bool
}

// program collects ops with symbolic jumps; assemble turns them into
// classic BPF with skips, adding a long jump where a conditional one
// would skip more than 255 instructions.
type program struct {
	ops    []op
	labels int
	depth  int // scratch slots in use
}

func (p *program) newLabel() string {
	p.labels++
	return fmt.Sprintf("L%d", p.labels)
}

func (p *program) emit(insns ...bpf.Instruction) {
	for _, in := range insns {
		p.ops = append(p.ops, op{insn: in})
	}
}

func (p *program) mark(label string) { p.ops = append(p.ops, op{label: label}) }

// jeq, jgt, jge and jset jump to t when the test on A holds, else to f.
func (p *program) jcond(c bpf.JumpTest, v uint32, t, f string) {
	p.ops = append(p.ops, op{jump: true, cond: c, val: v, t: t, f: f})
}

func (p *program) jcondX(c bpf.JumpTest, t, f string) {
	p.ops = append(p.ops, op{jump: true, cond: c, useX: true, t: t, f: f})
}

func (p *program) ja(t string) { p.ops = append(p.ops, op{jump: true, uncon: true, t: t}) }

// assemble resolves labels; the loop ends because each pass either
// finishes or adds one trampoline that brings a far target into range.
func (p *program) assemble() ([]bpf.Instruction, error) {
	for {
		pos, idx := p.layout()
		far := -1
		for i, o := range p.ops {
			if o.jump && !o.uncon && (pos[o.t]-idx[i]-1 > 255 || pos[o.f]-idx[i]-1 > 255) {
				far = i
				break
			}
		}
		if far < 0 {
			return p.encode(pos, idx)
		}
		p.trampoline(far, pos, idx)
	}
}

// layout returns the instruction index of each label and each op.
func (p *program) layout() (map[string]int, []int) {
	pos := map[string]int{}
	idx := make([]int, len(p.ops))
	n := 0
	for i, o := range p.ops {
		idx[i] = n
		if o.insn == nil && !o.jump {
			pos[o.label] = n
			continue
		}
		n++
	}
	return pos, idx
}

func (p *program) trampoline(i int, pos map[string]int, idx []int) {
	o := &p.ops[i]
	target := &o.f
	if pos[o.t]-idx[i]-1 > 255 {
		target = &o.t
	}
	l := p.newLabel()
	far := *target
	*target = l
	ins := []op{{label: l}, {jump: true, uncon: true, t: far}}
	p.ops = append(p.ops[:i+1], append(ins, p.ops[i+1:]...)...)
}

func (p *program) encode(pos map[string]int, idx []int) ([]bpf.Instruction, error) {
	var out []bpf.Instruction
	for i, o := range p.ops {
		switch {
		case o.insn != nil:
			out = append(out, o.insn)
		case o.uncon:
			out = append(out, bpf.Jump{Skip: uint32(pos[o.t] - idx[i] - 1)})
		case o.jump && o.useX:
			out = append(out, bpf.JumpIfX{Cond: o.cond, SkipTrue: uint8(pos[o.t] - idx[i] - 1), SkipFalse: uint8(pos[o.f] - idx[i] - 1)})
		case o.jump:
			out = append(out, bpf.JumpIf{Cond: o.cond, Val: o.val, SkipTrue: uint8(pos[o.t] - idx[i] - 1), SkipFalse: uint8(pos[o.f] - idx[i] - 1)})
		}
	}
	if len(out) > maxClassic {
		return nil, fmt.Errorf("the classic program has %d instructions, more than %d", len(out), maxClassic)
	}
	return out, nil
}
