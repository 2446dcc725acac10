package main

import (
	"context"
	"fmt"
	"os"

	"github.com/cilium/ebpf/btf"

	"github.com/droptrace/droptrace/explain"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/output"
	"github.com/droptrace/droptrace/session"
	"github.com/droptrace/droptrace/tracer"
)

// stdout is buffered: one write per event would cost a system call each
// at a million drops a second. The run loops flush it whenever they have
// caught up.
var stdout = session.NewBuffer(os.Stdout, 64<<10)

func run(ctx context.Context, cfg *config) error {
	// kallsyms is read, and for --trace the BPF object parsed and the
	// backend tried, while BTF is.
	loadSyms := kernel.StartKallsyms()
	var prepared *tracer.Prepared
	if cfg.trace.enabled && !cfg.trace.listFuncs {
		prepared = tracer.Prepare(cfg.trace.parsedBackend)
	}
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		return fmt.Errorf("reading kernel BTF: %w", err)
	}
	// Path tracing takes no reason filter and names a reason only at a
	// path's drop: it reads the reasons once its probes are attached.
	var namer tracer.ReasonNamer
	var lazy *kernel.LazyDropReasons
	var lookup filter.ReasonLookup
	if cfg.trace.enabled && !cfg.listReasons {
		lazy = kernel.NewLazyDropReasons(kspec, func(err error) {
			fmt.Fprintf(os.Stderr, "droptrace: reading drop reasons from kernel BTF: %v; reasons are shown as numbers\n", err)
		})
		namer = lazy
	} else {
		reasons, err := kernel.DropReasonsFrom(kspec)
		if err != nil {
			return fmt.Errorf("reading drop reasons from kernel BTF: %w", err)
		}
		if cfg.listReasons {
			return explain.WriteList(os.Stdout, reasons.Names())
		}
		namer, lookup = reasons, reasons
	}
	spec, err := filter.Parse(cfg.filters, lookup)
	if err != nil {
		return err
	}
	cfg.annotate.Pods = true
	if err := kernel.CheckPrivileges(); err != nil {
		return err
	}
	netns, err := session.HoldNetns(os.Stderr, cfg.filters.Netns, spec)
	if err != nil {
		return err
	}
	defer netns.Close()
	syms, err := loadSyms()
	if err != nil {
		return err
	}
	dec := tracer.NewDecoder(syms, namer)
	metrics := session.Metrics{Addr: cfg.metricsAddr, Version: version}
	switch {
	case cfg.trace.listFuncs:
		return session.ListFuncs(os.Stdout, os.Stderr, syms, cfg.trace.funcsRE)
	case cfg.trace.enabled:
		p := session.Path{
			Tracer:  tracer.PathConfig{Filter: spec, Backend: cfg.trace.parsedBackend, Funcs: cfg.trace.funcsRE, Stack: cfg.trace.stack, Decoder: dec, KernelTypes: kspec, Prepared: prepared},
			Syms:    syms,
			Backend: cfg.trace.backend, Stdout: stdout, Stderr: os.Stderr,
			Outputs: &output.Set{Format: cfg.output, Mode: output.ModePath, Stdout: stdout, Colour: session.IsTerminal(os.Stdout)},
			Count:   cfg.count, Duration: cfg.duration, Metrics: metrics,
			Attached: lazy.Start,
			Pods:     cfg.annotate.Pods, CRIEndpoint: cfg.annotate.CRIEndpoint,
		}
		return p.Run(ctx)
	}
	d := session.Drops{
		Tracer:  tracer.Config{Filter: spec, Hook: cfg.hook, TCP: cfg.tcp, Summary: cfg.summary, SummaryKeys: cfg.summaryKeys, Decoder: dec},
		Outputs: &output.Set{Format: cfg.output, Stdout: stdout, Pcap: cfg.pcap, Notice: pcapNotice},
		Stdout:  stdout, Stderr: os.Stderr, Pcap: cfg.pcap,
		Count: cfg.count, Duration: cfg.duration, Interval: cfg.interval, Metrics: metrics, Annotate: cfg.annotate,
		FilterPod: cfg.filterPod,
	}
	if cfg.pcap != "" {
		d.Tracer.Snaplen = cfg.snaplen
	}
	return d.Run(ctx)
}

func pcapNotice(s string) { fmt.Fprintf(os.Stderr, "droptrace: --output-pcap: %s\n", s) }
