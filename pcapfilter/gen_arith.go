package pcapfilter

import (
	"errors"

	"golang.org/x/net/bpf"
)

// scratchSlots is the number of classic BPF scratch memory words.
const scratchSlots = 16

var errTooComplex = errors.New("the arithmetic needs more than 16 scratch slots")

var aluOps = map[string]bpf.ALUOp{
	"+": bpf.ALUOpAdd, "-": bpf.ALUOpSub, "*": bpf.ALUOpMul, "/": bpf.ALUOpDiv,
	"%": bpf.ALUOpMod, "&": bpf.ALUOpAnd, "|": bpf.ALUOpOr, "^": bpf.ALUOpXor,
	"<<": bpf.ALUOpShiftLeft, ">>": bpf.ALUOpShiftRight,
}

// relation tests the protocols its loads need first (as libpcap does, so a
// load never runs on a packet of another protocol), then compares.
func (g *generator) relation(n relNode, t, f string) error {
	for _, guard := range append(guards(n.l), guards(n.r)...) {
		m := g.newLabel()
		if err := g.gen(guard, m, f); err != nil {
			return err
		}
		g.mark(m)
	}
	if err := g.eval(n.l); err != nil {
		return err
	}
	if r, ok := n.r.(numArith); ok {
		g.compare(n.op, false, r.v, t, f)
		return nil
	}
	if err := g.evalRight(n.r); err != nil {
		return err
	}
	g.compare(n.op, true, 0, t, f)
	return nil
}

func guards(a arith) []node {
	switch a := a.(type) {
	case loadArith:
		gs := guards(a.idx)
		if a.guard != nil {
			gs = append(gs, a.guard)
		}
		return gs
	case binArith:
		// libpcap 1.10 keeps only the left operand's protocol test in
		// arithmetic (tcpdump selects UDP packets for
		// "ip[2:2] - tcp[12] != 0"); do the same so filters mean what
		// they mean in tcpdump.
		return guards(a.l)
	}
	return nil
}

// compare jumps on A against a constant or X, using only the tests that
// classic BPF encodes natively.
func (g *generator) compare(op string, useX bool, v uint32, t, f string) {
	tests := map[string]struct {
		c    bpf.JumpTest
		swap bool
	}{
		"=": {bpf.JumpEqual, false}, "==": {bpf.JumpEqual, false}, "!=": {bpf.JumpEqual, true},
		">": {bpf.JumpGreaterThan, false}, ">=": {bpf.JumpGreaterOrEqual, false},
		"<": {bpf.JumpGreaterOrEqual, true}, "<=": {bpf.JumpGreaterThan, true},
	}
	tc := tests[op]
	if tc.swap {
		t, f = f, t
	}
	if useX {
		g.jcondX(tc.c, t, f)
		return
	}
	g.jcond(tc.c, v, t, f)
}

// evalRight saves A, evaluates a into A, moves it to X and restores A.
func (g *generator) evalRight(a arith) error {
	if g.depth == scratchSlots {
		return errTooComplex
	}
	slot := g.depth
	g.depth++
	defer func() { g.depth-- }()
	g.emit(bpf.StoreScratch{Src: bpf.RegA, N: slot})
	if err := g.eval(a); err != nil {
		return err
	}
	g.emit(bpf.TAX{}, bpf.LoadScratch{Dst: bpf.RegA, N: slot})
	return nil
}

// eval leaves the value of a in A; it may change X.
func (g *generator) eval(a arith) error {
	switch a := a.(type) {
	case numArith:
		g.emit(bpf.LoadConstant{Dst: bpf.RegA, Val: a.v})
	case lenArith:
		g.emit(bpf.LoadExtension{Num: bpf.ExtLen})
	case loadArith:
		return g.load(a)
	case binArith:
		if err := g.eval(a.l); err != nil {
			return err
		}
		if r, ok := a.r.(numArith); ok {
			g.emit(bpf.ALUOpConstant{Op: aluOps[a.op], Val: r.v})
			return nil
		}
		if err := g.evalRight(a.r); err != nil {
			return err
		}
		g.emit(bpf.ALUOpX{Op: aluOps[a.op]})
	}
	return nil
}

// load reads proto[idx:size]; transport loads add the IPv4 header length.
func (g *generator) load(a loadArith) error {
	if n, ok := a.idx.(numArith); ok {
		if a.layer == layerTransport {
			g.emit(bpf.LoadMemShift{Off: uint32(a.base)}, bpf.LoadIndirect{Off: uint32(a.base) + n.v, Size: a.size})
			return nil
		}
		g.emit(bpf.LoadAbsolute{Off: uint32(a.base) + n.v, Size: a.size})
		return nil
	}
	if err := g.eval(a.idx); err != nil {
		return err
	}
	if a.layer == layerTransport {
		if g.depth == scratchSlots {
			return errTooComplex
		}
		g.emit(bpf.StoreScratch{Src: bpf.RegA, N: g.depth}, bpf.LoadMemShift{Off: uint32(a.base)},
			bpf.LoadScratch{Dst: bpf.RegA, N: g.depth}, bpf.ALUOpX{Op: bpf.ALUOpAdd})
	}
	g.emit(bpf.TAX{}, bpf.LoadIndirect{Off: uint32(a.base), Size: a.size})
	return nil
}
