package guest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/tracer"
	"github.com/droptrace/droptrace/tracer/attach"
)

// pathFuncs narrows the probed functions to the receive path, so that
// fentry and kprobe, which attach one function at a time, finish quickly
// under emulation. TestAttachAll covers every function.
var pathFuncs = regexp.MustCompile(`^(ip_rcv|ip_rcv_core|ip_rcv_finish|ip_local_deliver|ip_local_deliver_finish|ip_output|ip_finish_output2|__netif_receive_skb_core|__udp4_lib_rcv|udp_rcv|tcp_v4_rcv|tcp_v4_send_reset|icmp_rcv)$`)

// backendsOf returns the backends this kernel series must have
// (wantMechanisms).
func backendsOf(series string) []attach.Backend {
	if !wantMechanisms[series]["kprobe-multi"] {
		return []attach.Backend{attach.BackendKprobe, attach.BackendFentry, attach.BackendTracepoint}
	}
	return []attach.Backend{attach.BackendKprobeMulti, attach.BackendKprobe, attach.BackendFentry, attach.BackendTracepoint}
}

func TestPathBackends(t *testing.T) {
	requireVM(t)
	for _, b := range backendsOf(kernelSeries(kernelRelease(t))) {
		t.Run(string(b), func(t *testing.T) {
			t.Run("udp", func(t *testing.T) { tracePath(t, b, "udp", "__udp4_lib_rcv") })
			t.Run("tcp", func(t *testing.T) { tracePath(t, b, "tcp", "tcp_v4_rcv") })
		})
	}
}

// tracePath sends one packet of proto to a closed loopback port and checks
// its path: through fn (for function backends), ending in a NO_SOCKET drop.
func tracePath(t *testing.T, b attach.Backend, proto, fn string) {
	port := closedPort(t)
	spec := filter.Spec{Port: port, Proto: filter.ProtoUDP}
	if proto == "tcp" {
		spec.Proto = filter.ProtoTCP
	}
	p, events := runPath(t, tracer.PathConfig{Filter: spec, Backend: b, Funcs: pathFuncs}, func() { sendTo(t, proto, port) })
	t.Logf("%s: %d probes attached in %v, detached in %v, %d refused", b, p.Probes(), p.AttachTime, p.DetachTime, len(p.Plan.Skipped))
	var funcs []string
	var drop *event.Event
	for i, ev := range events {
		funcs = append(funcs, ev.Func)
		if ev.Kind == "drop" && ev.Dport == port {
			drop = &events[i]
		}
	}
	t.Logf("path: %s", strings.Join(funcs, " > "))
	if drop == nil {
		t.Fatalf("no drop of the packet to port %d in %d events", port, len(events))
	}
	if drop.Reason != "NO_SOCKET" {
		t.Errorf("drop reason %q, want NO_SOCKET", drop.Reason)
	}
	if b != attach.BackendTracepoint && !slices.Contains(funcs, fn) {
		t.Errorf("path does not pass %s", fn)
	}
	if b == attach.BackendTracepoint && !slices.ContainsFunc(funcs, func(f string) bool { return strings.HasPrefix(f, "tp:") }) {
		t.Errorf("tracepoint backend reported no tracepoint step")
	}
	if last := events[len(events)-1]; last.Kind != "drop" && drop.Skb == last.Skb {
		t.Errorf("path of skb %#x does not end with its drop", drop.Skb)
	}
}

// runPath attaches, runs send, and returns every event until a drop.
func runPath(t *testing.T, cfg tracer.PathConfig, send func()) (*tracer.PathTracer, []event.Event) {
	t.Helper()
	syms := loadKallsyms(t)
	cfg.Decoder = newDecoder(t, syms)
	p, err := tracer.OpenPath(context.Background(), cfg, syms)
	if err != nil {
		t.Fatalf("OpenPath(%s): %v", cfg.Backend, err)
	}
	defer p.Close()
	// events is read only after Run has returned.
	var events []event.Event
	dropped := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, func(ev *event.Event) error {
			events = append(events, *ev)
			if ev.Kind == "drop" {
				once.Do(func() { close(dropped) })
			}
			return nil
		}, nil)
	}()
	send()
	select {
	case <-dropped:
	case <-time.After(eventWait):
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	p.Close()
	return p, events
}

// sendTo sends a UDP datagram or a TCP SYN to a closed port on 127.0.0.1.
func sendTo(t *testing.T, proto string, port uint16) {
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	if proto == "udp" {
		sendOne(t, "udp4", dst)
		return
	}
	c, err := net.DialTimeout("tcp4", dst.String(), 2*time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("connected to %v, which should be closed", dst)
	}
}

// TestAutoBackend checks what auto chooses, and that it says why it did
// not choose better backends.
func TestAutoBackend(t *testing.T) {
	requireVM(t)
	series := kernelSeries(kernelRelease(t))
	syms := loadKallsyms(t)
	p, err := tracer.OpenPath(context.Background(), tracer.PathConfig{Funcs: regexp.MustCompile(`^ip_rcv$`)}, syms)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	t.Logf("auto chose %s; why not better: %q", p.Backend(), p.Why())
	want, known := wantMechanisms[series]
	switch {
	case !known:
		t.Logf("no expectations for kernel %s", series)
	case want["kprobe-multi"]:
		if p.Backend() != attach.BackendKprobeMulti {
			t.Errorf("auto chose %s on %s, want kprobe-multi", p.Backend(), series)
		}
	default:
		if p.Backend() == attach.BackendKprobeMulti {
			t.Errorf("auto chose kprobe-multi on %s", series)
		}
		if len(p.Why()) == 0 || !strings.HasPrefix(p.Why()[0], "kprobe-multi:") {
			t.Errorf("auto does not say why not kprobe-multi: %q", p.Why())
		}
	}
}

// TestAttachAll attaches every discoverable function with kprobe-multi,
// and the skb tracepoints, and prints attach and detach times for make
// bench. With DROPTRACE_BENCH_ALL=1 it also times kprobe and fentry, which
// attach one function at a time, on the first perFuncBench functions:
// every function takes many minutes under emulation.
func TestAttachAll(t *testing.T) {
	requireVM(t)
	series := kernelSeries(kernelRelease(t))
	syms := loadKallsyms(t)
	for _, b := range backendsOf(series) {
		cfg := tracer.PathConfig{Backend: b}
		if b == attach.BackendFentry || b == attach.BackendKprobe {
			if !benchAll() {
				continue
			}
			cfg.Funcs = firstFuncs(t, syms, perFuncBench)
		}
		p, err := tracer.OpenPath(context.Background(), cfg, syms)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		p.Close()
		// Some functions cannot be probed (notrace, or kept in BTF but
		// inlined everywhere); they must stay the exception.
		if refused := len(p.Plan.Skipped); refused > len(p.Plan.Funcs)/10 {
			t.Errorf("%s: the kernel refused %d of %d functions", b, refused, len(p.Plan.Funcs))
		}
		fmt.Printf("DROPTRACE-BENCH kernel=%s backend=%s funcs=%d tracepoints=%d refused=%d attach_ms=%d detach_ms=%d\n",
			series, b, len(p.Plan.Funcs), len(p.Plan.Tracepoints), len(p.Plan.Skipped), p.AttachTime.Milliseconds(), p.DetachTime.Milliseconds())
	}
}

const perFuncBench = 200

// firstFuncs returns a regexp matching the first n traceable functions.
func firstFuncs(t *testing.T, syms *kernel.Symbols, n int) *regexp.Regexp {
	t.Helper()
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	plan, err := tracer.Discover(kspec, syms, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range plan.Funcs[:min(n, len(plan.Funcs))] {
		names = append(names, regexp.QuoteMeta(f.Name))
	}
	return regexp.MustCompile("^(" + strings.Join(names, "|") + ")$")
}

// benchAll says whether TestAttachAll also times the per-function
// backends over every function (make bench sets it).
func benchAll() bool { return os.Getenv("DROPTRACE_BENCH_ALL") == "1" }

// TestInterruptedAttach cancels an attach of every function half-way and
// checks nothing is left behind: no BPF program, no kprobe.
func TestInterruptedAttach(t *testing.T) {
	requireVM(t)
	for _, b := range []attach.Backend{attach.BackendKprobe, attach.BackendFentry} {
		t.Run(string(b), func(t *testing.T) {
			lastProg, kprobesBefore := lastProgramID(t), countKprobes(t)
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(3*time.Second, cancel)
			syms := loadKallsyms(t)
			p, err := tracer.OpenPath(ctx, tracer.PathConfig{Backend: b}, syms)
			if err == nil {
				p.Close()
				t.Fatalf("%s attached everything before the cancel; the test needs a slower attach", b)
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("OpenPath: %v, want context.Canceled", err)
			}
			// Closed programs and probes go after an RCU grace period, not
			// when Close returns: wait for them, within leftWait.
			var left []ebpf.ProgramID
			pollUntil(leftWait, func() bool { left = programsAfter(lastProg); return len(left) == 0 })
			if len(left) > 0 {
				t.Errorf("%d BPF programs loaded by the interrupted attach are still loaded after %v: IDs %v", len(left), leftWait, left)
			}
			var kprobes int
			pollUntil(leftWait, func() bool { kprobes = countKprobes(t); return kprobes == kprobesBefore })
			if kprobes != kprobesBefore {
				t.Errorf("%d kprobes after an interrupted attach, %d before", kprobes, kprobesBefore)
			}
		})
	}
}

// leftWait bounds the wait for what an interrupted attach leaves behind
// to go; TCG is slow.
const leftWait = 30 * time.Second

// pollUntil calls cond every 50 ms until it holds or timeout passes.
func pollUntil(timeout time.Duration, cond func() bool) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() && time.Now().Before(deadline) {
		<-tick.C
	}
}

// lastProgramID returns the highest ID of a loaded BPF program, 0 when
// none is. The kernel hands out IDs in increasing order, so every program
// loaded later has a higher one.
func lastProgramID(t *testing.T) ebpf.ProgramID {
	t.Helper()
	ids := programsAfter(0)
	if len(ids) == 0 {
		return 0
	}
	return ids[len(ids)-1]
}

// programsAfter returns the IDs above id of the loaded BPF programs, in
// increasing order.
func programsAfter(id ebpf.ProgramID) []ebpf.ProgramID {
	var ids []ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return ids
		}
		ids = append(ids, next)
		id = next
	}
}

// countKprobes counts registered kprobes, perf-event ones included.
func countKprobes(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/sys/kernel/debug/kprobes/list")
	if err != nil {
		t.Fatalf("reading the kprobe list: %v", err)
	}
	return strings.Count(string(b), "\n")
}
