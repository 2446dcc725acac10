package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/droptrace/droptrace/tracer/attach"
)

// tcpRun is one run of the TCP step: iperf3 on cpu (or anyCPU).
type tcpRun struct {
	cpu  int
	rows []tcpRow
}

type tcpRow struct {
	name   string
	argv   []string // the tracer's command; nil for no tracer
	ready  string   // what it prints once attached
	bps    sample
	ratios sample // over the mean of the untraced runs either side
	note   string // why the row has no numbers
}

// missArgs trace paths with a filter no packet of the flow matches: what
// --trace costs the traffic it is not looking at.
var missArgs = []string{"--trace", "--filter-port", "1"}

// tcpRows are the configurations of the TCP step: no tracer, a process
// that does nothing (the method's own error), empty programs on the
// probes --trace attaches with backend (the floor), and droptrace with a
// filter that matches nothing and following the flow.
func (b *bench) tcpConfigs(backend attach.Backend) []tcpRow {
	dt := func(args []string) []string {
		return append([]string{b.o.bin, "--backend", string(backend)}, args...)
	}
	flow := strings.Fields(b.o.traceArgs)
	rows := []tcpRow{{name: "no tracer"},
		{name: "no tracer, measured as a configuration (the method's own error)", argv: []string{os.Args[0], "-idle"}, ready: floorReady},
		{name: fmt.Sprintf("empty programs on --trace's probes, %s (the floor)", backend), argv: []string{os.Args[0], "-floor-path", string(backend)}, ready: floorReady},
		{name: fmt.Sprintf("droptrace %s, %s (matches nothing)", strings.Join(missArgs, " "), backend), argv: dt(missArgs), ready: "tracing"},
		{name: fmt.Sprintf("droptrace %s, %s (the flow)", b.o.traceArgs, backend), argv: dt(flow), ready: "tracing"}}
	if !hasTrace(b.o.bin) {
		for i := 3; i < len(rows); i++ {
			rows[i].note = "n/a (no --trace in this build)"
		}
	}
	return rows
}

// tcp measures iperf3 throughput over the veth pair, with no tracer and
// with droptrace's path tracing when this build has it: with a filter that
// matches nothing, and following the flow; once per place of -tcp-cpu.
func (b *bench) tcp() error {
	srv, err := startProc([]string{"ip", "netns", "exec", b.tp.server, "iperf3", "-s"}, "", time.Second, false)
	if err != nil {
		return err
	}
	defer srv.stop()
	backend, _, err := attach.ChooseBackend("ip_rcv")
	if err != nil {
		return err
	}
	for _, cpu := range b.o.tcpCPUs {
		if cpu != anyCPU {
			fmt.Fprintf(os.Stderr, "bench:  iperf3 on CPU %d\n", cpu)
		}
		rows, err := b.tcpAt(backend, cpu)
		if err != nil {
			return err
		}
		b.tcpRuns = append(b.tcpRuns, tcpRun{cpu: cpu, rows: rows})
	}
	return nil
}

// tcpAt is one TCP run, with iperf3 on cpu (or anyCPU).
func (b *bench) tcpAt(backend attach.Backend, cpu int) ([]tcpRow, error) {
	rows := b.tcpConfigs(backend)
	// Sandwiched: B T1 B T2 B ...; each traced run's ratio is over the
	// mean of the untraced runs on either side of it.
	prev, err := b.tcpOnce(nil, "", cpu)
	if err != nil {
		return nil, err
	}
	rows[0].bps = append(rows[0].bps, prev)
	for round := range b.o.rounds {
		for i := 1; i < len(rows); i++ {
			if rows[i].note != "" {
				continue
			}
			bps, err := b.tcpOnce(rows[i].argv, rows[i].ready, cpu)
			if err != nil {
				return nil, err
			}
			next, err := b.tcpOnce(nil, "", cpu)
			if err != nil {
				return nil, err
			}
			rows[i].bps = append(rows[i].bps, bps)
			rows[i].ratios = append(rows[i].ratios, bps/((prev+next)/2))
			rows[0].bps = append(rows[0].bps, next)
			prev = next
			fmt.Fprintf(os.Stderr, "bench:   round %d %-55s %6.2f Gbit/s, %.2f of no tracer\n", round+1, rows[i].name, bps/1e9, rows[i].ratios[len(rows[i].ratios)-1])
		}
	}
	return rows, nil
}

// tcpOnce measures one iperf3 run, under the tracer argv unless nil,
// with iperf3 on cpu unless anyCPU.
func (b *bench) tcpOnce(argv []string, ready string, cpu int) (float64, error) {
	if argv != nil {
		p, err := startProc(argv, ready, settle, false)
		if err != nil {
			return 0, err
		}
		// The tracer's exit (detach, the kernel freeing its programs)
		// must not fall into the next, untraced, run.
		defer time.Sleep(settle)
		defer p.stop()
	}
	args := []string{"ip", "netns", "exec", b.tp.client, "iperf3", "-c", b.tp.serverIP, "-t", "2", "-J"}
	if cpu != anyCPU {
		args = append(args, "-A", fmt.Sprintf("%d,%d", cpu, cpu))
	}
	out, err := sh(args[0], args[1:]...)
	if err != nil {
		return 0, err
	}
	var res struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return 0, fmt.Errorf("reading iperf3 -J: %w", err)
	}
	return res.End.SumReceived.BitsPerSecond, nil
}
