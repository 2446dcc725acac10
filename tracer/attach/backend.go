package attach

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
)

// Backend is a way to attach path-tracing programs to kernel functions.
type Backend string

// Backends, best first: the order auto tries them in.
const (
	BackendKprobeMulti Backend = "kprobe-multi" // one batch attach for all functions (5.18+, fprobe)
	BackendKprobe      Backend = "kprobe"       // one kprobe per function
	BackendFentry      Backend = "fentry"       // one BPF trampoline, and program load, per function (5.5+)
	BackendTracepoint  Backend = "tracepoint"   // tp_btf on the skb tracepoints only: no kernel functions
)

// Backends lists every backend, best first.
var Backends = []Backend{BackendKprobeMulti, BackendKprobe, BackendFentry, BackendTracepoint}

// ParseBackend checks a --backend value; "auto" gives "".
func ParseBackend(s string) (Backend, error) {
	if s == "auto" {
		return "", nil
	}
	for _, b := range Backends {
		if string(b) == s {
			return b, nil
		}
	}
	return "", fmt.Errorf("%q is not a backend (auto, kprobe-multi, kprobe, fentry, tracepoint)", s)
}

// ProbeBackend tries the backend for real on function fn: loads a trivial
// program and attaches it, then detaches. nil means it works.
func ProbeBackend(b Backend, fn string) error {
	switch b {
	case BackendKprobeMulti:
		if err := features.HaveBPFLinkKprobeMulti(); err != nil {
			if errors.Is(err, ebpf.ErrNotSupported) {
				return errors.New("not supported by this kernel (needs 5.18+ built with CONFIG_FPROBE)")
			}
			return explain(err)
		}
		return nil
	case BackendKprobe:
		if _, err := os.Stat("/sys/bus/event_source/devices/kprobe"); err != nil {
			return errors.New("not built into this kernel (no CONFIG_KPROBES)")
		}
		return explain(tryAttach(ebpf.Kprobe, ebpf.AttachNone, fn, func(p *ebpf.Program) (link.Link, error) {
			return link.Kprobe(fn, p, nil)
		}))
	case BackendFentry:
		return explain(tryAttach(ebpf.Tracing, ebpf.AttachTraceFEntry, fn, func(p *ebpf.Program) (link.Link, error) {
			return link.AttachTracing(link.TracingOptions{Program: p})
		}))
	case BackendTracepoint:
		return explain(tryAttach(ebpf.Tracing, ebpf.AttachTraceRawTp, "netif_receive_skb", func(p *ebpf.Program) (link.Link, error) {
			return link.AttachTracing(link.TracingOptions{Program: p})
		}))
	}
	return fmt.Errorf("unknown backend %q", b)
}

func tryAttach(typ ebpf.ProgramType, at ebpf.AttachType, target string, attach func(*ebpf.Program) (link.Link, error)) error {
	prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Type:       typ,
		AttachType: at,
		AttachTo:   target,
		License:    "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		},
	}, ebpf.ProgramOptions{})
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer prog.Close()
	l, err := attach(prog)
	if err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	return l.Close()
}

// explain turns a probe failure into words a user can act on.
func explain(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ebpf.ErrNotSupported):
		return fmt.Errorf("not supported by this kernel (%v)", err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("refused by the kernel (EPERM%s)", lockdown())
	case strings.Contains(err.Error(), "no such file"), errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("not available: %v", err)
	}
	return err
}

// ChooseBackend returns the best backend that works, and for each better
// one, why it was not used.
func ChooseBackend(fn string) (Backend, []string, error) {
	var why []string
	for _, b := range Backends {
		err := ProbeBackend(b, fn)
		if err == nil {
			return b, why, nil
		}
		why = append(why, fmt.Sprintf("%s: %v", b, err))
	}
	return "", why, errors.New("no backend works on this kernel: " + strings.Join(why, "; "))
}

// lockdown names the kernel lockdown mode when one is active, since it is
// the usual reason tracing programs are refused to root.
func lockdown() string {
	b, err := os.ReadFile("/sys/kernel/security/lockdown")
	if err != nil {
		return ""
	}
	for _, f := range strings.Fields(string(b)) {
		if strings.HasPrefix(f, "[") && f != "[none]" {
			return "; lockdown=" + strings.Trim(f, "[]")
		}
	}
	return ""
}
