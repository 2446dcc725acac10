package attach

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/droptrace/droptrace/kernel"
)

// MaxSkbParam is the last parameter position probed for a struct sk_buff *:
// kprobes read the first five arguments from registers on every
// architecture droptrace supports.
const MaxSkbParam = 5

// Probe is a kernel function or tracepoint that gets an skb.
type Probe struct {
	Name string
	Pos  int // 1-based position of the struct sk_buff * parameter
}

// SkbProbes returns, sorted by name, every function in spec with a
// struct sk_buff * among its first MaxSkbParam parameters, and every
// tracepoint whose BTF prototype (btf_trace_<name>, 5.5+) carries one.
// One pass over the types: decoding them is most of discovery's time.
func SkbProbes(spec *btf.Spec) (funcs, tracepoints []Probe, err error) {
	seen := map[string]bool{}
	for typ, err := range spec.All() {
		if err != nil {
			return nil, nil, fmt.Errorf("reading BTF: %w", err)
		}
		switch t := typ.(type) {
		case *btf.Func:
			if p, ok := skbFunc(t); ok && !seen[p.Name] {
				seen[p.Name] = true
				funcs = append(funcs, p)
			}
		case *btf.Typedef:
			if p, ok := skbTracepoint(t); ok {
				tracepoints = append(tracepoints, p)
			}
		}
	}
	byName := func(a, b Probe) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(funcs, byName)
	slices.SortFunc(tracepoints, byName)
	return funcs, tracepoints, nil
}

func skbFunc(fn *btf.Func) (Probe, bool) {
	proto, ok := fn.Type.(*btf.FuncProto)
	if !ok {
		return Probe{}, false
	}
	pos := skbParam(proto.Params, MaxSkbParam)
	return Probe{Name: fn.Name, Pos: pos}, pos > 0
}

func skbTracepoint(td *btf.Typedef) (Probe, bool) {
	if !strings.HasPrefix(td.Name, "btf_trace_") {
		return Probe{}, false
	}
	proto, ok := kernel.TracepointProto(td)
	if !ok || len(proto.Params) < 2 {
		return Probe{}, false
	}
	// The first parameter is the tracepoint's context pointer.
	pos := skbParam(proto.Params[1:], len(proto.Params)-1)
	return Probe{Name: strings.TrimPrefix(td.Name, "btf_trace_"), Pos: pos}, pos > 0
}

func skbParam(params []btf.FuncParam, max int) int {
	for i, p := range params {
		if i >= max {
			break
		}
		if isSkbPointer(p.Type) {
			return i + 1
		}
	}
	return 0
}

func isSkbPointer(t btf.Type) bool {
	ptr, ok := btf.UnderlyingType(t).(*btf.Pointer)
	if !ok {
		return false
	}
	st, ok := btf.UnderlyingType(ptr.Target).(*btf.Struct)
	return ok && st.Name == "sk_buff"
}

// denied reports functions droptrace never probes: BPF helpers run
// inside BPF programs, where a probe would recurse into itself and the
// kernel silently skips it.
func denied(name string) bool {
	return strings.HasPrefix(name, "bpf_") || strings.HasPrefix(name, "____bpf_") ||
		strings.HasPrefix(name, "__bpf_")
}

// Traceable keeps the functions that can be probed: present in kallsyms,
// in available_filter_functions when that file is readable (it is not
// everywhere, and droptrace does not need it), not denied, and matching
// re when re is not nil.
func Traceable(funcs []Probe, syms *kernel.Symbols, re *regexp.Regexp) ([]Probe, error) {
	ftrace, err := readFilterFunctions(kernel.TracefsPath + "/available_filter_functions")
	if err != nil {
		return nil, err
	}
	var out []Probe
	for _, f := range funcs {
		switch {
		case denied(f.Name), !syms.Has(f.Name):
		case ftrace != nil && !ftrace[f.Name]:
		case re != nil && !re.MatchString(f.Name):
		default:
			out = append(out, f)
		}
	}
	return out, nil
}

// readFilterFunctions returns the set of functions ftrace can attach to,
// or nil when the file cannot be read (EPERM under lockdown, no tracefs).
func readFilterFunctions(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	set := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, _, _ := strings.Cut(sc.Text(), " ")
		set[name] = true
	}
	if err := sc.Err(); err != nil {
		// Reads can fail with EPERM although open succeeded.
		if errors.Is(err, fs.ErrPermission) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return set, nil
}

// HasGoneFunc says, before discovery, whether it will find a function of
// RoleGone among the functions re allows (nil: all): one of the few that
// free an skb's memory, in kallsyms, with the skb first. Only
// available_filter_functions, which discovery also reads, can make it
// wrong, when that file leaves such a function out.
func HasGoneFunc(spec *btf.Spec, syms *kernel.Symbols, re *regexp.Regexp) bool {
	for name := range goneFuncs {
		if denied(name) || !syms.Has(name) || (re != nil && !re.MatchString(name)) {
			continue
		}
		types, err := spec.AnyTypesByName(name)
		if err != nil {
			continue
		}
		for _, t := range types {
			if fn, ok := t.(*btf.Func); ok {
				if p, ok := skbFunc(fn); ok && FuncRole(p) == RoleGone {
					return true
				}
			}
		}
	}
	return false
}
