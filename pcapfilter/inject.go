package pcapfilter

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// ErrNoStub means no program of the collection calls the stub function.
var ErrNoStub = errors.New("no program contains the filter stub")

// Inject replaces the body of the stub function named stub in every
// program of spec that contains it with filter, which Compile produced.
// The stub keeps its BTF function information; the filter's labels are
// renamed after the stub so that an L2 and an L3 filter can share a
// program. It returns ErrNoStub if no program contains the stub.
func Inject(spec *ebpf.CollectionSpec, stub string, filter asm.Instructions) error {
	found := false
	for name, prog := range spec.Programs {
		ok, err := injectProgram(prog, stub, filter)
		if err != nil {
			return fmt.Errorf("injecting the filter into %s: %w", name, err)
		}
		found = found || ok
	}
	if !found {
		return fmt.Errorf("stub %s: %w", stub, ErrNoStub)
	}
	return nil
}

func injectProgram(prog *ebpf.ProgramSpec, stub string, filter asm.Instructions) (bool, error) {
	start := -1
	for i, ins := range prog.Instructions {
		if ins.Symbol() == stub {
			start = i
			break
		}
	}
	if start < 0 {
		return false, nil
	}
	end := stubEnd(prog.Instructions, start)
	body := renameLabels(filter, labelPrefix+"_"+stub)
	if len(body) == 0 {
		return false, errors.New("empty filter")
	}
	body[0] = body[0].WithMetadata(prog.Instructions[start].Metadata)
	insns := append(asm.Instructions{}, prog.Instructions[:start]...)
	insns = append(insns, body...)
	prog.Instructions = append(insns, prog.Instructions[end:]...)
	return true, nil
}

// stubEnd is the index of the next function after the stub; filter
// labels already injected there are not function starts.
func stubEnd(insns asm.Instructions, start int) int {
	for i := start + 1; i < len(insns); i++ {
		if sym := insns[i].Symbol(); sym != "" && !strings.HasPrefix(sym, labelPrefix+"_") {
			return i
		}
	}
	return len(insns)
}

// renameLabels returns a copy of filter with its "pcapfilter_l2_..." or
// "pcapfilter_l3_..." labels moved under prefix.
func renameLabels(filter asm.Instructions, prefix string) asm.Instructions {
	rename := func(s string) string {
		for _, l := range []Link{Ethernet, RawIP} {
			old := labelPrefix + "_" + l.String()
			if strings.HasPrefix(s, old+"_") {
				return prefix + strings.TrimPrefix(s, old)
			}
		}
		return s
	}
	out := make(asm.Instructions, len(filter))
	for i, ins := range filter {
		if sym := ins.Symbol(); sym != "" {
			ins = ins.WithSymbol(rename(sym))
		}
		if ref := ins.Reference(); ref != "" {
			ins = ins.WithReference(rename(ref))
		}
		out[i] = ins
	}
	return out
}
