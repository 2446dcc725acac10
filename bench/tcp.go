package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

type tcpRow struct {
	name string
	args []string // droptrace's arguments; nil for no tracer
	bps  sample
	note string // why the row has no numbers
}

// missArgs trace paths with a filter no packet of the flow matches: what
// --trace costs the traffic it is not looking at.
var missArgs = []string{"--trace", "--filter-port", "1"}

// tcp measures iperf3 throughput over the veth pair, with no tracer and
// with droptrace's path tracing when this build has it: with a filter that
// matches nothing, and following the flow. Rows alternate within each
// round, so each traced run sits between untraced ones.
func (b *bench) tcp() error {
	srv, err := startProc([]string{"ip", "netns", "exec", b.tp.server, "iperf3", "-s"}, "", time.Second, false)
	if err != nil {
		return err
	}
	defer srv.stop()
	flow := strings.Fields(b.o.traceArgs)
	rows := []tcpRow{{name: "no tracer"},
		{name: "droptrace " + strings.Join(missArgs, " ") + " (matches nothing)", args: missArgs},
		{name: "droptrace " + b.o.traceArgs + " (the flow)", args: flow}}
	if !hasTrace(b.o.bin) {
		rows[1].note = "n/a (no --trace in this build)"
		rows[2].note = rows[1].note
	}
	for round := range b.o.rounds {
		for i := range rows {
			if rows[i].note != "" {
				continue
			}
			bps, err := b.tcpOnce(rows[i].args)
			if err != nil {
				return err
			}
			rows[i].bps = append(rows[i].bps, bps)
			fmt.Fprintf(os.Stderr, "bench:   round %d %-55s %9.2f Gbit/s\n", round+1, rows[i].name, bps/1e9)
		}
	}
	b.tcpRows = rows
	return nil
}

// tcpOnce measures one iperf3 run, under droptrace with args unless nil.
func (b *bench) tcpOnce(args []string) (float64, error) {
	if args != nil {
		p, err := startProc(append([]string{b.o.bin}, args...), "tracing", 200*time.Millisecond, false)
		if err != nil {
			return 0, err
		}
		defer p.stop()
	}
	out, err := sh("ip", "netns", "exec", b.tp.client, "iperf3", "-c", b.tp.serverIP, "-t", "2", "-J")
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
