package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/output"
	"github.com/droptrace/droptrace/tracer"
)

func run(ctx context.Context, cfg *config) error {
	reasons, err := kernel.LoadDropReasons()
	if err != nil {
		return fmt.Errorf("reading drop reasons from kernel BTF: %w", err)
	}
	if cfg.listReasons {
		return listReasons(os.Stdout, reasons)
	}
	spec, err := filter.Parse(cfg.filters, reasons)
	if err != nil {
		return err
	}
	if err := kernel.CheckPrivileges(); err != nil {
		return err
	}
	syms, err := kernel.LoadKallsyms()
	if err != nil {
		return err
	}
	switch {
	case cfg.trace.listFuncs:
		return listFuncs(os.Stdout, cfg, syms)
	case cfg.trace.enabled:
		return runTrace(ctx, cfg, spec, syms, reasons)
	}
	return runDrops(ctx, cfg, spec, syms, reasons)
}

// runDrops reports each dropped packet (the default mode).
func runDrops(ctx context.Context, cfg *config, spec filter.Spec, syms *kernel.Symbols, reasons *kernel.DropReasons) error {
	w, pcap, err := openOutputs(cfg)
	if err != nil {
		return err
	}
	tcfg := tracer.Config{Filter: spec, Hook: cfg.hook, TCP: cfg.tcp, Summary: cfg.summary, SummaryKeys: cfg.summaryKeys}
	if pcap != nil {
		tcfg.Snaplen = cfg.snaplen
	}
	t, err := tracer.Open(tcfg)
	if err != nil {
		w.Close()
		return err
	}
	defer t.Close()
	dec := tracer.NewDecoder(syms, reasons)
	mx, err := startMetrics(ctx, cfg, t, dec)
	if err != nil {
		w.Close()
		return err
	}
	// In the background: the rings fill while the reader waits, and a
	// storm fills them within a few hundred milliseconds.
	go releaseLoadMemory()
	announce(t, spec)
	ctx, cancel := withDuration(ctx, cfg.duration)
	defer cancel()
	if cfg.summary {
		defer reportOverflow(t, cfg.summaryKeys)
		return summaryLoop(ctx, t, dec, newSummaryWriter(cfg.output), cfg.interval)
	}
	if mx != nil {
		w = output.Multi(w, mx.Writer())
	}
	return streamDrops(ctx, cfg, t, dec, w, pcap)
}

// streamDrops writes drop (and --tcp) events until the run ends, then
// flushes the outputs and reports the counts.
func streamDrops(ctx context.Context, cfg *config, t *tracer.Tracer, dec *tracer.Decoder, w event.Writer, pcap *output.Pcap) error {
	var reported uint64
	var tcp *tcpReport
	var runErr error
	if cfg.tcp {
		reported, tcp, runErr = streamTCP(ctx, t, dec, w, cfg.count)
	} else {
		reported, runErr = streamEvents(ctx, t.Run, dec, w, cfg.count)
	}
	closeErr := w.Close()
	if err := stdout.Flush(); closeErr == nil {
		closeErr = err
	}
	summarize(t, reported, pcap)
	summarizeTCP(t, tcp)
	if runErr != nil {
		return runErr
	}
	return closeErr
}

// runFunc is the Run method of a tracer of any mode.
type runFunc func(ctx context.Context, dec *tracer.Decoder, emit func(*event.Event) error, idle func() error) error

// streamEvents writes events until ctx ends or count events were written.
func streamEvents(ctx context.Context, run runFunc, dec *tracer.Decoder, w event.Writer, count int) (uint64, error) {
	var n uint64
	err := run(ctx, dec, func(ev *event.Event) error {
		if err := w.Write(ev); err != nil {
			return err
		}
		n++
		if count > 0 && n >= uint64(count) {
			return tracer.ErrStop
		}
		return nil
	}, stdout.Flush)
	return n, err
}

// stdout is buffered: one write per event would cost a system call each
// at a million drops a second. Run flushes it whenever it has caught up.
var stdout = bufio.NewWriterSize(os.Stdout, 64<<10)

// openOutputs opens the stdout format and the pcap file; pcap is nil
// when not asked for. With the pcap on stdout, stdout carries nothing else.
func openOutputs(cfg *config) (event.Writer, *output.Pcap, error) {
	var ws []event.Writer
	if cfg.pcap != "-" {
		if cfg.output == "json" {
			ws = append(ws, output.NewJSON(stdout))
		} else {
			ws = append(ws, output.NewText(stdout))
		}
	}
	var pcap *output.Pcap
	if cfg.pcap != "" {
		var err error
		if pcap, err = output.OpenPcap(cfg.pcap); err != nil {
			return nil, nil, fmt.Errorf("--output-pcap: %w", err)
		}
		ws = append(ws, pcap)
	}
	return output.Multi(ws...), pcap, nil
}

func announce(t *tracer.Tracer, spec filter.Spec) {
	if fb := t.Fallback(); fb != "" {
		fmt.Fprintf(os.Stderr, "droptrace: not using tp_btf: %s\n", fb)
	}
	announceTCP(t)
	fmt.Fprintf(os.Stderr, "droptrace: tracing drops via %s, filters: %s; Ctrl-C to stop\n", t.Mode(), spec)
}

func summarize(t *tracer.Tracer, reported uint64, pcap *output.Pcap) {
	seen, lost, err := t.Stats()
	if err != nil {
		fmt.Fprintf(os.Stderr, "droptrace: %d drops reported; %v\n", reported, err)
		return
	}
	fmt.Fprintf(os.Stderr, "droptrace: %d drops reported, %d matched in the kernel, %d events lost\n", reported, seen, lost)
	if pcap != nil && pcap.Skipped() > 0 {
		fmt.Fprintf(os.Stderr, "droptrace: %d drops had no packet bytes to write to the pcap\n", pcap.Skipped())
	}
}

func listReasons(w io.Writer, reasons *kernel.DropReasons) error {
	_, err := io.WriteString(w, strings.Join(reasons.Names(), "\n")+"\n")
	return err
}

// withDuration ends ctx after d, when d is set (--duration).
func withDuration(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

func kernelSpec() (*btf.Spec, error) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("reading kernel BTF (droptrace needs a kernel built with CONFIG_DEBUG_INFO_BTF): %w", err)
	}
	return spec, nil
}
