package main

import (
	"context"
	"fmt"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/tracer"
	"github.com/droptrace/droptrace/tracer/attach"
)

// runPathFloor attaches a program that does nothing to every probe
// --trace would attach with backend b (its functions and its skb
// tracepoints), and waits for a signal: what any tracer on the same probes
// pays before its first instruction, the floor --trace is judged against.
func runPathFloor(b attach.Backend) error {
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		return err
	}
	syms, err := kernel.LoadKallsyms()
	if err != nil {
		return err
	}
	plan, err := tracer.Discover(kspec, syms, nil)
	if err != nil {
		return err
	}
	a := &attach.Attachment{}
	defer a.Close()
	ctx := context.Background()
	if _, err := attach.AttachTracing(ctx, a, emptyLoader(ebpf.AttachTraceRawTp), plan.Tracepoints, nil); err != nil {
		return err
	}
	nf, err := attachEmptyFuncs(ctx, a, b, plan.Funcs)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: %d empty programs (%d functions, %d tracepoints) with %s\n", floorReady, a.Len(), nf, len(plan.Tracepoints), b)
	waitSignal()
	return nil
}

func attachEmptyFuncs(ctx context.Context, a *attach.Attachment, b attach.Backend, funcs []attach.Probe) (int, error) {
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
		progs := [attach.MaxSkbParam]*ebpf.Program{prog, prog, prog, prog, prog}
		if b == attach.BackendKprobe {
			skipped, err = attach.AttachKprobes(ctx, a, progs, funcs, nil)
		} else {
			skipped, err = attach.AttachKprobeMulti(ctx, a, progs, funcs, nil)
		}
	default:
		return 0, fmt.Errorf("unknown backend %q", b)
	}
	return len(funcs) - len(skipped), err
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
