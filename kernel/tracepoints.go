package kernel

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// TracepointParams returns the number of arguments a BTF-typed tracepoint
// passes to BPF programs, read from the btf_trace_<name> typedef that the
// kernel defines for every tracepoint (5.5+). The count excludes the
// leading context pointer of the typedef's prototype.
func TracepointParams(spec *btf.Spec, name string) (int, error) {
	var td *btf.Typedef
	if err := spec.TypeByName("btf_trace_"+name, &td); err != nil {
		return 0, fmt.Errorf("looking up tracepoint %s in BTF: %w", name, err)
	}
	proto, ok := TracepointProto(td)
	if !ok {
		return 0, fmt.Errorf("btf_trace_%s: not a function pointer", name)
	}
	if len(proto.Params) == 0 {
		return 0, errors.New("btf_trace_" + name + ": no context parameter")
	}
	return len(proto.Params) - 1, nil
}

// TracepointProto returns the prototype a btf_trace_<name> typedef
// points to; its first parameter is the tracepoint's context pointer.
func TracepointProto(td *btf.Typedef) (*btf.FuncProto, bool) {
	ptr, ok := td.Type.(*btf.Pointer)
	if !ok {
		return nil, false
	}
	proto, ok := ptr.Target.(*btf.FuncProto)
	return proto, ok
}
