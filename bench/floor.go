package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// floorReady is what runFloor prints once its program is attached, or
// once it is waiting without one.
const floorReady = "floor program attached"

// runIdle prints floorReady and waits for a signal: a configuration that
// traces nothing, measured like the others, shows the method's own error.
func runIdle() error {
	fmt.Fprintln(os.Stderr, floorReady)
	waitSignal()
	return nil
}

func waitSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}

// runFloor attaches a tp_btf program on kfree_skb that does nothing and
// waits for a signal: the cost any tp_btf tracer pays before its first
// instruction, against which droptrace's own programs are judged.
func runFloor() error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.Tracing,
		AttachType:   ebpf.AttachTraceRawTp,
		AttachTo:     "kfree_skb",
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		return fmt.Errorf("loading the empty tp_btf program: %w", err)
	}
	defer prog.Close()
	l, err := link.AttachTracing(link.TracingOptions{Program: prog})
	if err != nil {
		return fmt.Errorf("attaching the empty tp_btf program: %w", err)
	}
	defer l.Close()
	fmt.Fprintln(os.Stderr, floorReady)
	waitSignal()
	return nil
}
