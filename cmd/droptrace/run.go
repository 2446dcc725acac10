package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

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
	w, pcap, err := openOutputs(cfg)
	if err != nil {
		return err
	}
	tcfg := tracer.Config{Filter: spec, Hook: cfg.hook, Summary: cfg.summary}
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
	releaseLoadMemory()
	announce(t, spec)
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	if cfg.summary {
		defer reportOverflow(t)
		return summaryLoop(ctx, t, dec, newSummaryWriter(cfg.output), cfg.interval)
	}
	if mx != nil {
		w = output.Multi(w, mx.Writer())
	}
	reported, runErr := stream(ctx, t, dec, w, cfg.count)
	closeErr := w.Close()
	if err := stdout.Flush(); closeErr == nil {
		closeErr = err
	}
	summarize(t, reported, pcap)
	if runErr != nil {
		return runErr
	}
	return closeErr
}

// stream writes events until ctx ends or count events were written.
func stream(ctx context.Context, t *tracer.Tracer, dec *tracer.Decoder, w output.Writer, count int) (uint64, error) {
	var n uint64
	err := t.Run(ctx, dec, func(ev *output.Event) error {
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
func openOutputs(cfg *config) (output.Writer, *output.Pcap, error) {
	var ws []output.Writer
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
