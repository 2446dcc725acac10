package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// report prints the tables in Markdown, ready for the README.
func (b *bench) report(w io.Writer, took time.Duration) {
	fmt.Fprintf(w, "Measured on %s, %s, %d cores; %d rounds, slices of %s; took %s.\n\n",
		time.Now().Format("2006-01-02"), machine(), runtime.NumCPU(), b.o.rounds, b.o.window, took.Round(time.Second))
	b.reportStorm(w)
	b.reportTCP(w)
	b.reportEvents(w)
	b.reportCost(w)
	b.reportVM(w)
}

func (b *bench) reportStorm(w io.Writer) {
	if len(b.storm) == 0 {
		return
	}
	fmt.Fprintf(w, "| drop storm (64-byte UDP over veth, dropped by iptables) | drops/s (median) | vs no tracer (median) | ratios (min–max) | droptrace RSS (peak while loading) | events lost |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---|\n")
	for i, r := range b.storm {
		rss, lost := "", ""
		if r.cfg.droptrace {
			rss = fmt.Sprintf("%.0f MiB (%.0f MiB)", float64(r.rssKiB)/1024, float64(r.peakKiB)/1024)
		}
		if r.lossSeen {
			lost = fmt.Sprintf("%.1f%% (%d of %d matched; reported + lost = matched: %v)",
				100*float64(r.lost)/float64(max(r.matched, 1)), r.lost, r.matched, r.reported+r.lost == r.matched)
		}
		ratio, spread := "**1.00**", "rates "+r.rates.spread()
		if i > 0 {
			ratio = fmt.Sprintf("**%.2f**", r.ratios.median())
			spread = r.ratios.minMax()
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %s |\n", r.cfg.name, r.rates.median(), ratio, spread, rss, lost)
	}
	if c := b.check; c.sent > 0 {
		fmt.Fprintf(w, "\nSlices are timed by the datagrams the senders handed to the kernel; over the whole storm the iptables rule dropped %d of %d (%.2f%%).\n",
			c.dropped, c.sent, 100*float64(c.dropped)/float64(c.sent))
	}
}

func (b *bench) reportTCP(w io.Writer) {
	for _, run := range b.tcpRuns {
		where := ""
		if run.cpu != anyCPU {
			where = fmt.Sprintf(", client and server on CPU %d", run.cpu)
		}
		fmt.Fprintf(w, "\n| TCP throughput (iperf3 over veth, 2 s%s) | Gbit/s (median) | spread | vs no tracer (median of sandwiched ratios) | ratios (min–max) |\n|---|---:|---:|---:|---:|\n", where)
		for i, r := range run.rows {
			switch {
			case r.note != "":
				fmt.Fprintf(w, "| %s | %s | | | |\n", r.name, r.note)
			case i == 0:
				fmt.Fprintf(w, "| %s | %.1f | %s | **1.00** | |\n", r.name, r.bps.median()/1e9, r.bps.spread())
			default:
				fmt.Fprintf(w, "| %s | %.1f | %s | **%.2f** | %s |\n", r.name, r.bps.median()/1e9, r.bps.spread(), r.ratios.median(), r.ratios.minMax())
			}
		}
	}
}

func (b *bench) reportCost(w io.Writer) {
	fmt.Fprintf(w, "\n| BPF program on kfree_skb (kernel.bpf_stats_enabled, during a storm) | ns per call | calls | instructions | JITed bytes |\n|---|---:|---:|---:|---:|\n")
	for _, c := range b.costs {
		fmt.Fprintf(w, "| %s | %.0f | %d | %d | %d |\n", c.name, c.nsPerCall, c.calls, c.insns, c.jited)
	}
}

// machine names the OS and kernel, e.g. "Debian 12, kernel 6.18.0".
func machine() string {
	osName := "Linux"
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				osName = strings.Trim(v, `"`)
			}
		}
	}
	rel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%s, kernel %s", osName, strings.TrimSpace(string(rel)))
}
