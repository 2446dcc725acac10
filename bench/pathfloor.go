package main

import (
	"context"
	"fmt"
	"os"

	"github.com/cilium/ebpf/btf"

	"github.com/droptrace/droptrace/bench/pathfloor"
	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/tracer"
	"github.com/droptrace/droptrace/tracer/attach"
)

// runPathFloor attaches a program that does nothing to every probe
// --trace would attach with backend b, and waits for a signal.
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
	nf, err := pathfloor.Attach(context.Background(), a, b, plan, syms)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: %d empty programs (%d functions, %d tracepoints) with %s\n", floorReady, a.Len(), nf, len(plan.Tracepoints), b)
	waitSignal()
	return nil
}
