package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"

	"github.com/cilium/ebpf/btf"

	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/output"
	"github.com/droptrace/droptrace/session"
	"github.com/droptrace/droptrace/tracer"
	"github.com/droptrace/droptrace/tracer/attach"
)

// traceOptions are the flags of path tracing (--trace).
type traceOptions struct {
	enabled   bool
	backend   string
	funcs     string
	listFuncs bool
	stack     bool

	// Set by validate from backend and funcs.
	parsedBackend attach.Backend
	funcsRE       *regexp.Regexp // nil when funcs is ""
}

func (o *traceOptions) validate(cfg *config) error {
	b, err := attach.ParseBackend(o.backend)
	if err != nil {
		return usagef("--backend: %v", err)
	}
	re, err := regexp.Compile(o.funcs)
	if err != nil {
		return usagef("--filter-func: %q is not a regular expression: %v", o.funcs, err)
	}
	o.parsedBackend = b
	if o.funcs != "" {
		o.funcsRE = re
	}
	if !o.enabled {
		return nil
	}
	switch {
	case len(cfg.filters.Reasons) > 0:
		return usagef("--filter-reason: not supported with --trace (a path's reason is known only at its end)")
	case cfg.pcap != "":
		return usagef("--output-pcap: not supported with --trace")
	case cfg.summary:
		return usagef("--summary: not supported with --trace (a path is a list of events)")
	case cfg.tcp:
		return usagef("--tcp: not supported with --trace; run them as two droptraces")
	}
	return nil
}

// runTrace follows matching packets through the kernel (pwru style).
func runTrace(ctx context.Context, cfg *config, spec filter.Spec, syms *kernel.Symbols, dec *tracer.Decoder) error {
	w, err := output.New(cfg.output, output.ModePath, stdout, output.Options{Colour: session.IsTerminal(os.Stdout)})
	if err != nil {
		return err
	}
	pcfg := tracer.PathConfig{Filter: spec, Backend: cfg.trace.parsedBackend, Funcs: cfg.trace.funcsRE, Stack: cfg.trace.stack, Decoder: dec}
	if session.IsTerminal(os.Stderr) {
		pcfg.Progress = session.ProgressBar(os.Stderr)
	}
	p, err := tracer.OpenPath(ctx, pcfg, syms)
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "droptrace: interrupted while attaching; every probe attached so far was detached")
		return nil
	case errors.Is(err, tracer.ErrNoFuncMatch):
		return usagef("--filter-func: %v", err)
	case errors.Is(err, tracer.ErrBackend):
		return fmt.Errorf("--backend %s: %w", cfg.trace.backend, err)
	case err != nil:
		return err
	}
	defer session.ClosePath(os.Stderr, p)
	session.AnnouncePath(os.Stderr, p, spec)
	if err := ctx.Err(); err != nil {
		return nil // interrupted while attaching: Close detaches
	}
	mx, err := startMetrics(ctx, cfg, p, nil)
	if err != nil {
		return err
	}
	if mx != nil {
		w = output.Multi(w, mx)
	}
	ctx, cancel := session.WithDuration(ctx, cfg.duration)
	defer cancel()
	s := &session.Stream{Source: p, Out: w, Count: cfg.count, Flush: stdout.Flush}
	n, runErr := s.Run(ctx)
	if err := stdout.Flush(); runErr == nil {
		runErr = err
	}
	session.ReportPath(os.Stderr, p, n)
	return runErr
}

// listFuncs prints what --trace would probe, and exits.
func listFuncs(w io.Writer, cfg *config, syms *kernel.Symbols) error {
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		return fmt.Errorf("reading kernel BTF (droptrace needs a kernel built with CONFIG_DEBUG_INFO_BTF): %w", err)
	}
	plan, err := tracer.Discover(kspec, syms, cfg.trace.funcsRE)
	if err != nil {
		return err
	}
	for _, f := range plan.Funcs {
		fmt.Fprintf(w, "%s\t%d\n", f.Name, f.Pos)
	}
	for _, tp := range plan.Tracepoints {
		fmt.Fprintf(w, "tp:%s\t%d\n", tp.Name, tp.Pos)
	}
	fmt.Fprintf(os.Stderr, "droptrace: %d functions, %d tracepoints\n", len(plan.Funcs), len(plan.Tracepoints))
	return nil
}
