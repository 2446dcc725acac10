package guest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/droptrace/droptrace/bench/pathfloor"
	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/tracer"
	"github.com/droptrace/droptrace/tracer/attach"
)

// pwruPath is where make bench puts pwru in the guest (vmtest/run.sh --add).
const pwruPath = "/bin/pwru"

// benchFuncs are the functions the per-function backends probe in the
// benchmark, for droptrace and pwru alike: every function takes many
// minutes to attach under emulation.
var benchFuncs = regexp.MustCompile(`^(ip|udp|tcp)_.*`)

// sameFuncs returns one anchored regular expression naming exactly the
// functions matching benchFuncs that both droptrace and pwru probe, so
// that the per-function backends compare the same probes. droptrace
// alone also probes functions whose skb parameter is const (or a
// typedef); pwru v1.0.12 takes only a parameter typed exactly
// struct sk_buff * among the first five. It prints how many functions
// each would probe on its own and how many the benchmark uses.
func sameFuncs(t *testing.T) *regexp.Regexp {
	t.Helper()
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	syms, err := kernel.LoadKallsyms()
	if err != nil {
		t.Fatal(err)
	}
	plan, err := tracer.Discover(kspec, syms, benchFuncs)
	if err != nil {
		t.Fatal(err)
	}
	plain := map[string]bool{}
	for typ, err := range kspec.All() {
		if err != nil {
			t.Fatal(err)
		}
		if fn, ok := typ.(*btf.Func); ok && benchFuncs.FindString(fn.Name) == fn.Name && plainSkbParam(fn) {
			plain[fn.Name] = true
		}
	}
	var names []string
	for _, f := range plan.Funcs {
		if plain[f.Name] {
			names = append(names, regexp.QuoteMeta(f.Name))
		}
	}
	if len(names) == 0 {
		t.Fatalf("no function matching %s has a plain struct sk_buff * parameter", benchFuncs)
	}
	fmt.Printf("DROPTRACE-BENCH-PATH note=funcs regex=%s droptrace_alone=%d plain_skb=%d both=%d\n", benchFuncs, len(plan.Funcs), len(plain), len(names))
	return regexp.MustCompile(`^(?:` + strings.Join(names, "|") + `)$`)
}

// plainSkbParam says whether one of fn's first five parameters is typed
// exactly struct sk_buff *, with no qualifier or typedef in between: the
// functions pwru v1.0.12 selects.
func plainSkbParam(fn *btf.Func) bool {
	proto, ok := fn.Type.(*btf.FuncProto)
	if !ok {
		return false
	}
	for i, p := range proto.Params {
		if i >= attach.MaxSkbParam {
			break
		}
		if ptr, ok := p.Type.(*btf.Pointer); ok {
			if st, ok := ptr.Target.(*btf.Struct); ok && st.Name == "sk_buff" {
				return true
			}
		}
	}
	return false
}

// benchWindow is how long one traffic measurement lasts.
const benchWindow = time.Second

// benchRounds is how many times each tracer is measured per backend, in
// turns (floor, droptrace, pwru, then pwru, droptrace, floor, ...), so
// that the host's drift does not favour one; make bench reports medians,
// and each tracer's ratios over the floor's of the same round.
// DROPTRACE_BENCH_ROUNDS sets another number.
var benchRounds = envInt("DROPTRACE_BENCH_ROUNDS", 3)

// envInt is the positive number in the environment variable name, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// TestBenchPath measures, per backend, UDP packets/s and TCP throughput
// over loopback with no tracer, with empty programs on the probes --trace
// attaches (the floor), with droptrace's path tracing and with pwru, both
// filtering on a port no packet uses; and the time each takes to be ready
// and to detach. Each traced measurement sits between two untraced ones
// (its ratio is over their mean). It prints DROPTRACE-BENCH-PATH lines for
// make bench. Run only with DROPTRACE_BENCH_PATH=1.
func TestBenchPath(t *testing.T) {
	requireVM(t)
	if os.Getenv("DROPTRACE_BENCH_PATH") != "1" {
		t.Skip("SKIPPED: DROPTRACE_BENCH_PATH is not 1 (make bench sets it)")
	}
	_, err := os.Stat(pwruPath)
	havePwru := err == nil
	if !havePwru {
		fmt.Println("DROPTRACE-BENCH-PATH note=no-pwru")
	}
	series := kernelSeries(kernelRelease(t))
	same := sameFuncs(t)
	for _, b := range backendsOf(series) {
		if b == attach.BackendTracepoint {
			continue
		}
		var funcs *regexp.Regexp
		if b != attach.BackendKprobeMulti {
			funcs = same
		}
		tracers := []benchTracer{floorTracer(b, funcs), droptraceTracer(b, funcs)}
		if havePwru && b != attach.BackendFentry {
			tracers = append(tracers, pwruTracer(b, funcs))
		}
		// DROPTRACE_BENCH_TRACERS, a regex, measures only the tracers
		// it matches (to look at one change's cost).
		if only := os.Getenv("DROPTRACE_BENCH_TRACERS"); only != "" {
			re := regexp.MustCompile(only)
			tracers = slices.DeleteFunc(tracers, func(tr benchTracer) bool { return !re.MatchString(tr.name) })
		}
		// A subtest per backend, so that one can be measured alone
		// (--run TestBenchPath/kprobe-multi).
		t.Run(string(b), func(t *testing.T) {
			for round := range benchRounds {
				for i := range tracers {
					if round%2 == 1 {
						i = len(tracers) - 1 - i
					}
					benchOne(t, series, b, tracers[i], round)
				}
			}
		})
	}
}

// benchTracer starts a tracer and returns how to stop it, and after
// stopping, optionally, where its time went.
type benchTracer struct {
	name  string
	start func() (stop func() (timings string, err error), err error)
	// warm, if not nil, waits for what the tracer still does once ready
	// (droptrace reads the drop reasons' names), so that no traffic
	// window pays for it.
	warm func()
}

func benchOne(t *testing.T, series string, b attach.Backend, tr benchTracer, round int) {
	settle()
	baseU, baseT := rates(t)
	began := time.Now()
	stop, err := tr.start()
	if err != nil {
		t.Errorf("%s %s: %v", b, tr.name, err)
		return
	}
	ready := time.Since(began)
	if tr.warm != nil {
		tr.warm()
	}
	settle()
	u, tc := rates(t)
	label := fmt.Sprintf("backend=%s tracer=%s round=%d", b, tr.name, round)
	bpfNs, bpfRuns := bpfPer(t, label, "udp", udpRate, 1)
	// TCP: per 64 KiB received, the size of one write.
	bpfTCPNs, bpfTCPRuns := bpfPer(t, label, "tcp64k", tcpRate, 64<<10)
	began = time.Now()
	timings, err := stop()
	if err != nil {
		t.Errorf("%s %s: stopping: %v", b, tr.name, err)
	}
	detach := time.Since(began)
	settle()
	afterU, afterT := rates(t)
	fmt.Printf("DROPTRACE-BENCH-PATH kernel=%s backend=%s tracer=%s round=%d udp_ratio=%.3f tcp_ratio=%.3f ready_ms=%d detach_ms=%d udp_pps=%.0f tcp_mbps=%.0f bpf_ns_per_udp=%.0f bpf_runs_per_udp=%.1f bpf_ns_per_tcp64k=%.0f bpf_runs_per_tcp64k=%.1f timings=%s\n",
		series, b, tr.name, round, u/((baseU+afterU)/2), tc/((baseT+afterT)/2), ready.Milliseconds(), detach.Milliseconds(), u, tc*8/1e6, bpfNs, bpfRuns, bpfTCPNs, bpfTCPRuns, timings)
}

// settle collects this process's garbage before a measurement, so that
// no window pays for what an earlier step left (droptrace runs in this
// process: reading BTF leaves tens of MB behind; with one vCPU the
// collector's work would come out of the traffic's time).
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
}

func floorTracer(b attach.Backend, funcs *regexp.Regexp) benchTracer {
	return benchTracer{name: "floor", start: func() (func() (string, error), error) {
		kspec, err := btf.LoadKernelSpec()
		if err != nil {
			return nil, err
		}
		syms, err := kernel.LoadKallsyms()
		if err != nil {
			return nil, err
		}
		plan, err := tracer.Discover(kspec, syms, funcs)
		if err != nil {
			return nil, err
		}
		a := &attach.Attachment{}
		if _, err := pathfloor.Attach(context.Background(), a, b, plan, syms); err != nil {
			a.Close()
			return nil, err
		}
		return func() (string, error) { return "-", a.Close() }, nil
	}}
}

// droptraceTracer runs path tracing as cmd/droptrace does, in this
// process: the time to be ready counts everything droptrace does before
// its first event, from reading BTF and kallsyms on.
func droptraceTracer(b attach.Backend, funcs *regexp.Regexp) benchTracer {
	var reasons *kernel.LazyDropReasons
	return benchTracer{name: "droptrace", warm: func() { reasons.Name(0) }, start: func() (func() (string, error), error) {
		// As cmd/droptrace does: kallsyms read, the object parsed and
		// the backend tried while BTF is, one BTF spec for path
		// tracing and, once attached, the drop reasons.
		t0 := time.Now()
		loadSyms := kernel.StartKallsyms()
		prepared := tracer.Prepare(b)
		kspec, err := btf.LoadKernelSpec()
		if err != nil {
			return nil, err
		}
		tBTF := time.Since(t0)
		syms, err := loadSyms()
		if err != nil {
			return nil, err
		}
		pre := fmt.Sprintf("at-btf=%d,at-kallsyms=%d,", tBTF.Milliseconds(), time.Since(t0).Milliseconds())
		// The drop reasons are read once the probes are attached.
		reasons = kernel.NewLazyDropReasons(kspec, nil)
		cfg := tracer.PathConfig{Filter: filter.Spec{Port: 1}, Backend: b, Funcs: funcs, Decoder: tracer.NewDecoder(syms, reasons), KernelTypes: kspec, Prepared: prepared}
		p, err := tracer.OpenPath(context.Background(), cfg, syms)
		if err != nil {
			return nil, err
		}
		reasons.Start()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx, func(*event.Event) error { return nil }, nil) }()
		return func() (string, error) {
			cancel()
			err := <-done
			err = errors.Join(err, p.Close())
			return pre + strings.ReplaceAll(p.Timings.String(), " ", ","), err
		}, nil
	}}
}

// pwruTracer runs pwru v1.0.12 with the same filter (a pcap expression)
// and, for per-function backends, the same functions.
func pwruTracer(b attach.Backend, funcs *regexp.Regexp) benchTracer {
	return benchTracer{name: "pwru", start: func() (func() (string, error), error) {
		args := []string{"--backend", string(b), "--output-file", "/dev/null"}
		if funcs != nil {
			args = append(args, "--filter-func", funcs.String())
		}
		cmd := exec.Command(pwruPath, append(args, "port 1")...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		before, err := waitLine(out, "Listening for events")
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("pwru: %w", err)
		}
		// pwru's own count of what it attached (its progress bar's
		// last "n / n"), to check the function set against.
		count := "?"
		if m := pwruCount.FindAllStringSubmatch(before, -1); len(m) > 0 {
			count = m[len(m)-1][1]
		}
		fmt.Printf("DROPTRACE-BENCH-PATH note=pwru-attached backend=%s count=%s output=%q\n", b, count, before[max(0, len(before)-300):])
		go io.Copy(io.Discard, out)
		return func() (string, error) {
			cmd.Process.Signal(syscall.SIGINT)
			cmd.Wait()
			return "-", nil
		}, nil
	}}
}

// pwruCount matches the count in pwru's attach progress bar
// ("148 / 148 [---...").
var pwruCount = regexp.MustCompile(`(\d+) / (\d+) \[`)

// waitLine reads r until a line contains want, and returns what came
// before it.
func waitLine(r io.Reader, want string) (string, error) {
	sc := bufio.NewScanner(r)
	var last []string
	for sc.Scan() {
		if strings.Contains(sc.Text(), want) {
			return strings.Join(last, "\n"), nil
		}
		last = append(last, sc.Text())
	}
	return "", fmt.Errorf("exited before %q: %s", want, strings.Join(last, " | "))
}

// bpfPer measures, over one more traffic window (udpRate or tcpRate)
// with the kernel's run-time statistics on (only for that window: they
// cost a little themselves), the BPF time and program runs per unit
// (a datagram, or unitBytes of TCP), summed over every program loaded,
// and prints each program's share. It is the tracer's own cost, which
// the host's other guests do not move as they move rates.
func bpfPer(t *testing.T, label, unit string, window func(*testing.T) float64, unitBytes float64) (ns, runs float64) {
	t.Helper()
	stats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	if err != nil {
		t.Fatalf("enabling BPF run-time statistics: %v", err)
	}
	defer stats.Close()
	before := bpfPrograms()
	rate := window(t)
	after := bpfPrograms()
	units := rate * benchWindow.Seconds() / unitBytes
	if units == 0 {
		return 0, 0
	}
	var rt time.Duration
	var n uint64
	for id, a := range after {
		b := before[id]
		d, dn := a.Runtime-b.Runtime, a.RunCount-b.RunCount
		rt += d
		n += dn
		if dn > 0 {
			fmt.Printf("DROPTRACE-BENCH-BPF %s unit=%s prog=%s runs_per_unit=%.1f ns_per_run=%.0f ns_per_unit=%.0f\n",
				label, unit, a.name, float64(dn)/units, float64(d)/float64(dn), float64(d)/units)
		}
	}
	return float64(rt) / units, float64(n) / units
}

type progStats struct {
	name string
	ebpf.ProgramStats
}

// bpfPrograms reads the run-time statistics of every BPF program loaded.
func bpfPrograms() map[ebpf.ProgramID]progStats {
	m := map[ebpf.ProgramID]progStats{}
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return m
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		if s, err := p.Stats(); err == nil {
			name := ""
			if info, err := p.Info(); err == nil {
				name = info.Name
			}
			m[id] = progStats{name, *s}
		}
		p.Close()
	}
}

// benchWindows is how many UDP and TCP windows, in turns, make one
// measurement: the median of five is less at the mercy of a window or
// two the host's other guests slowed down (TCP over loopback under TCG
// moves by 20% from one window to the next).
// DROPTRACE_BENCH_WINDOWS sets another number.
var benchWindows = envInt("DROPTRACE_BENCH_WINDOWS", 5)

// rates measures UDP packets/s and TCP bytes/s, each the median of
// benchWindows windows taken in turns.
func rates(t *testing.T) (udp, tcp float64) {
	t.Helper()
	var us, ts []float64
	for range benchWindows {
		us = append(us, udpRate(t))
		ts = append(ts, tcpRate(t))
	}
	return median(us), median(ts)
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// udpWindow is how many datagrams udpRate has in flight at most: few
// enough that the socket never drops one (64-byte datagrams, about 1 KiB
// of buffer each, in the default 208 KiB), so every datagram costs its
// whole path, and the rate does not hang on which of sender and receiver
// the scheduler favours (a sender left to run floods the socket and the
// rate becomes the receiver's share of the CPU).
const udpWindow = 64

// udpRate sends 64-byte datagrams over loopback for benchWindow, at most
// udpWindow not yet received, and returns the datagrams received per
// second.
func udpRate(t *testing.T) float64 {
	t.Helper()
	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	sc, err := net.DialUDP("udp4", nil, rc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	// The receiver hands back a credit per udpWindow/2 datagrams.
	credits := make(chan struct{}, 4)
	got := make(chan int, 1)
	go func() {
		n, buf := 0, make([]byte, 64)
		for {
			if _, err := rc.Read(buf); err != nil {
				got <- n
				return
			}
			n++
			if n%(udpWindow/2) == 0 {
				select {
				case credits <- struct{}{}:
				default:
				}
			}
		}
	}()
	msg := make([]byte, 64)
	start := time.Now()
	for sent := 0; time.Since(start) < benchWindow; {
		for range udpWindow / 2 {
			sc.Write(msg)
		}
		sent += udpWindow / 2
		if sent >= udpWindow {
			// Wait for the receiver to catch up; a datagram lost
			// anyway must not stop the window.
			select {
			case <-credits:
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	el := time.Since(start)
	rc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	return float64(<-got) / el.Seconds()
}

// tcpRate writes over a loopback TCP connection for benchWindow and
// returns the bytes received per second.
func tcpRate(t *testing.T) float64 {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- 0
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		got <- n
	}()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	start := time.Now()
	for time.Since(start) < benchWindow {
		if _, err := c.Write(buf); err != nil {
			break
		}
	}
	el := time.Since(start)
	c.Close()
	return float64(<-got) / el.Seconds()
}
