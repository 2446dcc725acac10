package pathfloor

import (
	"context"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/tracer"
	"github.com/droptrace/droptrace/tracer/attach"
)

// Attach attaches an empty program to every probe of plan with backend b
// (its functions, unless b is the tracepoint backend, and its
// tracepoints) and returns how many functions it attached.
// kprobe-multi attaches by the addresses in syms.
func Attach(ctx context.Context, a *attach.Attachment, b attach.Backend, plan tracer.Plan, syms *kernel.Symbols) (int, error) {
	if _, err := attach.AttachTracing(ctx, a, emptyLoader(ebpf.AttachTraceRawTp), plan.Tracepoints, nil); err != nil {
		return 0, err
	}
	return attachFuncs(ctx, a, b, plan.Funcs, syms)
}

func attachFuncs(ctx context.Context, a *attach.Attachment, b attach.Backend, funcs []attach.Probe, syms *kernel.Symbols) (int, error) {
	var skipped []string
	var err error
	switch b {
	case attach.BackendTracepoint:
		return 0, nil
	case attach.BackendFentry:
		skipped, err = attach.AttachTracing(ctx, a, emptyLoader(ebpf.AttachTraceFEntry), funcs, nil)
	case attach.BackendKprobe, attach.BackendKprobeMulti:
		at := ebpf.AttachNone
		if b == attach.BackendKprobeMulti {
			at = ebpf.AttachTraceKprobeMulti
		}
		prog, perr := emptyProgram(ebpf.Kprobe, at, "")
		if perr != nil {
			return 0, perr
		}
		if b == attach.BackendKprobe {
			same := func(attach.Probe) *ebpf.Program { return prog }
			none := func(attach.Probe) uint64 { return 0 }
			skipped, err = attach.AttachKprobes(ctx, a, same, none, funcs, nil)
		} else {
			skipped, err = attach.AttachKprobeMulti(ctx, a, prog, multiTargets(funcs, syms), nil)
		}
	default:
		return 0, fmt.Errorf("unknown backend %q", b)
	}
	return len(funcs) - len(skipped), err
}

func multiTargets(funcs []attach.Probe, syms *kernel.Symbols) []attach.MultiTarget {
	var out []attach.MultiTarget
	for _, f := range funcs {
		if addr, ok := syms.Lookup(f.Name); ok {
			out = append(out, attach.MultiTarget{Name: f.Name, Addr: uintptr(addr)})
		}
	}
	return out
}

func emptyLoader(at ebpf.AttachType) attach.Loader {
	return func(p attach.Probe) (*ebpf.Program, error) {
		return emptyProgram(ebpf.Tracing, at, p.Name)
	}
}

func emptyProgram(typ ebpf.ProgramType, at ebpf.AttachType, target string) (*ebpf.Program, error) {
	return ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: typ, AttachType: at, AttachTo: target, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
}
