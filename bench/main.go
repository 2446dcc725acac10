// Command bench measures what droptrace costs, side by side in one run:
// drop storm rates with no tracer, droptrace in each mode, bpftrace and
// perf; TCP throughput with and without path tracing; the event rate user
// space keeps up with; droptrace's memory; and the BPF program's cost per
// drop. `make bench` builds droptrace and runs it as root.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/droptrace/droptrace/tracer/attach"
)

type options struct {
	bin         string
	rounds      int
	window      time.Duration
	senders     int
	traceArgs   string
	only        string
	configs     *regexp.Regexp
	extra       []string
	pwru        string
	vmClock     string
	eventAt     int
	eventSource string
	liveCPUs    []int
	profile     string
	tcpCPUs     []int // the TCP step's runs: iperf3 on this CPU, or anyCPU
}

// anyCPU in tcpCPUs is a TCP run with iperf3 where the scheduler puts it.
const anyCPU = -1

// parseCPUs reads a comma-separated list of CPU numbers, and of "any"
// (anyCPU) where anyOK.
func parseCPUs(v string, anyOK bool) ([]int, error) {
	var cpus []int
	for _, f := range strings.Split(v, ",") {
		if anyOK && f == "any" {
			cpus = append(cpus, anyCPU)
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a CPU number", f)
		}
		cpus = append(cpus, n)
	}
	return cpus, nil
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "./droptrace", "droptrace binary to measure")
	flag.IntVar(&o.rounds, "rounds", 8, "times each configuration is measured, interleaved")
	flag.DurationVar(&o.window, "window", time.Second, "length of one storm slice (and of the other steps' measurements, at least 2s)")
	flag.IntVar(&o.senders, "senders", 2, "storm sender threads")
	o.tcpCPUs = []int{anyCPU, 0}
	flag.Func("tcp-cpu", "TCP step: where iperf3's client and server run, one TCP run each, comma separated: any (where the scheduler puts them) or a CPU (both on it, iperf3 -A: the traffic keeps one CPU whether or not a tracer runs) (default any,0)", func(v string) (err error) {
		o.tcpCPUs, err = parseCPUs(v, true)
		return err
	})
	flag.StringVar(&o.traceArgs, "trace-args", "--trace --filter-port 5201", "droptrace arguments for the TCP path-tracing row")
	flag.StringVar(&o.only, "only", "", "run only the steps whose names contain this (storm, TCP, event, BPF, VM)")
	o.configs = regexp.MustCompile("")
	flag.Func("configs", "measure only the storm configurations whose names match this regular expression (no tracer is always measured)", func(v string) (err error) {
		o.configs, err = regexp.Compile(v)
		return err
	})
	flag.Func("extra", "an extra storm configuration, NAME=SHELL-COMMAND (repeatable; measured 2s after it starts)", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("want NAME=SHELL-COMMAND")
		}
		o.extra = append(o.extra, v)
		return nil
	})
	flag.StringVar(&o.eventSource, "event-source", "live,udp", "event-rate step: the drop sources, comma separated: live (XDP live frames, dropped as OTHERHOST), udp (the drop storm's datagrams, dropped by iptables)")
	o.liveCPUs = []int{0}
	flag.Func("live-cpus", "event-rate step: the CPUs the live-frames source makes drops on, comma separated (default 0: droptrace has the others)", func(v string) (err error) {
		o.liveCPUs, err = parseCPUs(v, false)
		return err
	})
	flag.IntVar(&o.eventAt, "event-at", 0, "event-rate step: measure this paced rate only, with no search (to compare builds side by side)")
	flag.StringVar(&o.profile, "profile", "", "event-rate step: also write droptrace's CPU profile to this file (for go tool pprof)")
	flag.StringVar(&o.pwru, "pwru", "", "pwru binary (or .gz) to compare with in the 6.12 VM; without it the VM rows have no pwru")
	flag.StringVar(&o.vmClock, "vm-clock", "icount", "the VM's clock: icount (guest time counts the instructions it runs: reproducible ratios) or host (the host's time, as the host's load moves it)")
	floor := flag.Bool("floor-program", false, "attach an empty tp_btf program on kfree_skb and wait (run by the bench itself)")
	idle := flag.Bool("idle", false, "wait for a signal (run by the bench itself as the control configuration)")
	pathFloor := flag.String("floor-path", "", "attach empty programs to the probes --trace attaches with this backend, and wait (run by the bench itself)")
	flag.Parse()
	if o.vmClock != "icount" && o.vmClock != "host" {
		fmt.Fprintf(os.Stderr, "bench: -vm-clock: %q is neither icount nor host\n", o.vmClock)
		os.Exit(2)
	}
	if *pathFloor != "" {
		if err := runPathFloor(attach.Backend(*pathFloor)); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if *floor || *idle {
		run := runFloor
		if *idle {
			run = runIdle
		}
		if err := run(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (namespaces, iptables, BPF)")
	}
	if err := ensureTools(); err != nil {
		return err
	}
	tp, err := newTopology()
	if err != nil {
		return err
	}
	defer tp.close()
	tmp, err := os.MkdirTemp("", "droptrace-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	b := &bench{o: o, tp: tp}
	cfgs := stormConfigs(o.bin, tp, tmp)
	steps := []struct {
		name string
		fn   func() error
	}{
		{"drop storm", func() error {
			return b.storms(selectConfigs(append(cfgs, extraConfigs(o.extra)...), o.configs))
		}},
		{"TCP throughput", b.tcp},
		{"event rate without loss", b.eventRate},
		{"BPF cost per drop", func() error { return b.bpfCost(cfgs) }},
		{"path tracing in the 6.12 VM", b.vmPath},
	}
	for _, s := range steps {
		if !strings.Contains(s.name, o.only) {
			continue
		}
		fmt.Fprintf(os.Stderr, "bench: %s (%s so far)\n", s.name, time.Since(start).Round(time.Second))
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	b.report(os.Stdout, time.Since(start))
	return nil
}
