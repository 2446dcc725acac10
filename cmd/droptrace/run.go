package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/output"
	"github.com/droptrace/droptrace/session"
	"github.com/droptrace/droptrace/tracer"
)

// stdout is buffered: one write per event would cost a system call each
// at a million drops a second. The run loops flush it whenever they have
// caught up.
var stdout = bufio.NewWriterSize(os.Stdout, 64<<10)

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
	dec := tracer.NewDecoder(syms, reasons)
	switch {
	case cfg.trace.listFuncs:
		return listFuncs(os.Stdout, cfg, syms)
	case cfg.trace.enabled:
		return runTrace(ctx, cfg, spec, syms, dec)
	}
	return runDrops(ctx, cfg, spec, dec)
}

// runDrops reports each dropped packet (the default mode), or counts them
// with --summary.
func runDrops(ctx context.Context, cfg *config, spec filter.Spec, dec *tracer.Decoder) error {
	tcfg := tracer.Config{Filter: spec, Hook: cfg.hook, TCP: cfg.tcp, Summary: cfg.summary, SummaryKeys: cfg.summaryKeys, Decoder: dec}
	if cfg.pcap != "" {
		tcfg.Snaplen = cfg.snaplen
	}
	// Outputs open before anything attaches: a bad path attaches nothing.
	w, pcap, err := openOutputs(cfg)
	if err != nil {
		return err
	}
	t, err := tracer.Open(tcfg)
	if err != nil {
		w.Close()
		return err
	}
	defer t.Close()
	mx, err := startMetrics(ctx, cfg, t, t)
	if err != nil {
		w.Close()
		return err
	}
	if mx != nil {
		w = output.Multi(w, mx)
	}
	// In the background: the rings fill while the reader waits, and a
	// storm fills them within a few hundred milliseconds.
	go session.ReleaseLoadMemory()
	session.AnnounceDrops(os.Stderr, t, spec)
	ctx, cancel := session.WithDuration(ctx, cfg.duration)
	defer cancel()
	if cfg.summary {
		defer session.ReportOverflow(os.Stderr, t, cfg.summaryKeys)
		sw, err := output.NewSummary(cfg.output, stdout)
		if err != nil {
			return err
		}
		s := session.Summary{Source: t, Out: sw, Interval: cfg.interval, Flush: stdout.Flush}
		return s.Run(ctx)
	}
	return streamDrops(ctx, cfg, t, w, pcap)
}

// streamDrops writes drop (and --tcp) events until the run ends, then
// flushes the outputs and reports the counts.
func streamDrops(ctx context.Context, cfg *config, t *tracer.Tracer, w event.Writer, pcap *output.Pcap) error {
	s := &session.Stream{Source: t, Out: w, Count: cfg.count, Flush: stdout.Flush}
	var tcp *session.TCPStage
	if cfg.tcp {
		tcp = session.NewTCPStage()
		defer tcp.Release()
		s.Stage = tcp
	}
	n, runErr := s.Run(ctx)
	closeErr := w.Close()
	if err := stdout.Flush(); closeErr == nil {
		closeErr = err
	}
	session.ReportDrops(os.Stderr, t, n)
	if pcap != nil && pcap.Skipped() > 0 {
		fmt.Fprintf(os.Stderr, "droptrace: %d drops had no packet bytes to write to the pcap\n", pcap.Skipped())
	}
	if tcp != nil {
		tcp.Report(os.Stderr, t, n.TCP)
	}
	if runErr != nil {
		return runErr
	}
	return closeErr
}

// openOutputs opens the stdout format and the pcap file; pcap is nil when
// not asked for. With the pcap on stdout, stdout carries nothing else.
// Summary mode writes its own tables.
func openOutputs(cfg *config) (event.Writer, *output.Pcap, error) {
	var ws []event.Writer
	if cfg.pcap != "-" && !cfg.summary {
		w, err := output.New(cfg.output, output.ModeDrops, stdout, output.Options{})
		if err != nil {
			return nil, nil, err
		}
		ws = append(ws, w)
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

func listReasons(w io.Writer, reasons *kernel.DropReasons) error {
	_, err := io.WriteString(w, strings.Join(reasons.Names(), "\n")+"\n")
	return err
}
