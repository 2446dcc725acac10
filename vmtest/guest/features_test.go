package guest

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"

	"github.com/droptrace/droptrace/kernel"
)

// probeFunction is where the function probes attach: a global function that
// every UDP datagram over IPv4 loopback passes through, on every kernel.
const probeFunction = "ip_rcv"

// mechanism is one way to run a BPF program when the kernel does something.
type mechanism struct {
	name    string
	spec    ebpf.ProgramSpec // without Instructions and License
	attach  func(*ebpf.Program) (link.Link, error)
	minimum string // first kernel that has it
}

var mechanisms = []mechanism{
	{
		name:    "kprobe",
		spec:    ebpf.ProgramSpec{Type: ebpf.Kprobe},
		attach:  func(p *ebpf.Program) (link.Link, error) { return link.Kprobe(probeFunction, p, nil) },
		minimum: "4.1",
	},
	{
		name: "kprobe-multi",
		spec: ebpf.ProgramSpec{Type: ebpf.Kprobe, AttachType: ebpf.AttachTraceKprobeMulti},
		attach: func(p *ebpf.Program) (link.Link, error) {
			return link.KprobeMulti(p, link.KprobeMultiOptions{Symbols: []string{probeFunction}})
		},
		minimum: "5.18, with CONFIG_FPROBE",
	},
	{
		name:    "fentry",
		spec:    ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceFEntry, AttachTo: probeFunction},
		attach:  func(p *ebpf.Program) (link.Link, error) { return link.AttachTracing(link.TracingOptions{Program: p}) },
		minimum: "5.5",
	},
	{
		name:    "tp_btf",
		spec:    ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp, AttachTo: "kfree_skb"},
		attach:  func(p *ebpf.Program) (link.Link, error) { return link.AttachTracing(link.TracingOptions{Program: p}) },
		minimum: "5.5",
	},
	{
		name:    "tracepoint",
		spec:    ebpf.ProgramSpec{Type: ebpf.TracePoint},
		attach:  func(p *ebpf.Program) (link.Link, error) { return link.Tracepoint("skb", "kfree_skb", p, nil) },
		minimum: "4.7",
	},
}

// wantMechanisms says which mechanisms work on the Debian kernels vmtest
// boots, as measured in shared/KERNEL.md: 6.1 has no fprobe, so no
// kprobe-multi; neither has Debian's arm64 6.12, whose config lacks
// CONFIG_FPROBE (in 6.12 fprobe needs DYNAMIC_FTRACE_WITH_REGS, which
// arm64 does not have).
var wantMechanisms = map[string]map[string]bool{
	"6.1":        {"kprobe": true, "kprobe-multi": false, "fentry": true, "tp_btf": true, "tracepoint": true},
	"6.12":       {"kprobe": true, "kprobe-multi": true, "fentry": true, "tp_btf": true, "tracepoint": true},
	"arm64-6.12": {"kprobe": true, "kprobe-multi": false, "fentry": true, "tp_btf": true, "tracepoint": true},
}

func TestKernelFeatures(t *testing.T) {
	requireVM(t)
	release := kernelRelease(t)
	t.Logf("kernel %s", release)
	checkKernelInterfaces(t)

	got := make(map[string]error)
	for _, m := range mechanisms {
		got[m.name] = probeMechanism(m)
		t.Logf("%-12s %s", m.name, describe(got[m.name]))
	}
	multi := features.HaveBPFLinkKprobeMulti()
	t.Logf("features.HaveBPFLinkKprobeMulti: %s", describe(multi))
	if (multi == nil) != (got["kprobe-multi"] == nil) {
		t.Errorf("features.HaveBPFLinkKprobeMulti says %s, attaching says %s", describe(multi), describe(got["kprobe-multi"]))
	}

	want, ok := wantMechanisms[kernelSeries(release)]
	if !ok {
		t.Logf("no expectations for kernel %s: results only logged", release)
		return
	}
	for _, m := range mechanisms {
		if works := got[m.name] == nil; works != want[m.name] {
			t.Errorf("%s on %s: works = %t, want %t (%s; needs %s)",
				m.name, release, works, want[m.name], describe(got[m.name]), m.minimum)
		}
	}
}

// checkKernelInterfaces fails when the guest lacks what droptrace reads:
// kernel BTF and kallsyms with real addresses.
func checkKernelInterfaces(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Errorf("kernel BTF: %v", err)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/kptr_restrict"); err == nil {
		t.Logf("kernel.kptr_restrict = %s", strings.TrimSpace(string(b)))
	}
	if _, err := kernel.LoadKallsyms(); err != nil {
		t.Errorf("kallsyms: %v", err)
	}
}

func describe(err error) string {
	if err == nil {
		return "works"
	}
	return "no: " + err.Error()
}

// probeMechanism loads a program that counts its runs, attaches it, makes
// traffic that passes the attach point, and returns nil only when the
// program ran.
func probeMechanism(m mechanism) error {
	counter, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		return fmt.Errorf("creating counter map: %w", err)
	}
	defer counter.Close()
	spec := m.spec
	spec.Name = "vmtest_probe"
	spec.License = "GPL"
	if spec.Instructions, err = countingProgram(counter); err != nil {
		return err
	}
	prog, err := ebpf.NewProgram(&spec)
	if err != nil {
		return fmt.Errorf("loading: %w", err)
	}
	defer prog.Close()
	l, err := m.attach(prog)
	if err != nil {
		return fmt.Errorf("attaching: %w", err)
	}
	defer l.Close()
	return waitForRun(counter)
}

// countingProgram adds one to counter[0] on every run and returns 0, the
// only value fentry programs may return.
func countingProgram(counter *ebpf.Map) (asm.Instructions, error) {
	loadMap := asm.LoadMapPtr(asm.R1, 0)
	if err := loadMap.AssociateMap(counter); err != nil {
		return nil, fmt.Errorf("referencing counter map: %w", err)
	}
	return asm.Instructions{
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		loadMap,
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
		asm.Return(),
	}, nil
}

// waitForRun sends UDP datagrams to a closed loopback port, which pass
// ip_rcv and are dropped through kfree_skb, until the counter moves.
func waitForRun(counter *ebpf.Map) error {
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 9) // discard: nothing listens in the guest
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if _, err := sendDatagram("udp4", dst); err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
		var n uint64
		if err := counter.Lookup(uint32(0), &n); err != nil {
			return fmt.Errorf("reading counter: %w", err)
		}
		if n > 0 {
			return nil
		}
	}
	return errors.New("attached, but the program never ran")
}
