package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/output"
	"github.com/droptrace/droptrace/tracer"
)

// traceOptions are the flags of path tracing (--trace).
type traceOptions struct {
	enabled   bool
	backend   string
	funcs     string
	listFuncs bool
	stack     bool

	// Set by validate from backend and funcs.
	parsedBackend kernel.Backend
	funcsRE       *regexp.Regexp // nil when funcs is ""
}

func (o *traceOptions) validate(cfg *config) error {
	b, err := kernel.ParseBackend(o.backend)
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
func runTrace(ctx context.Context, cfg *config, spec filter.Spec, syms *kernel.Symbols, reasons *kernel.DropReasons) error {
	pcfg := tracer.PathConfig{Filter: spec, Backend: cfg.trace.parsedBackend, Funcs: cfg.trace.funcsRE, Stack: cfg.trace.stack}
	if isTerminal(os.Stderr) {
		pcfg.Progress = progressBar(os.Stderr)
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
	defer closePath(p)
	announcePath(p, spec)
	if err := ctx.Err(); err != nil {
		return nil // interrupted while attaching: Close detaches
	}
	w := output.NewPathText(stdout, isTerminal(os.Stdout))
	if cfg.output == "json" {
		w = output.NewJSON(stdout)
	}
	if cfg.metricsAddr != "" {
		mx, err := serveMetrics(ctx, cfg.metricsAddr, metricsOptions(p))
		if err != nil {
			return err
		}
		w = output.Multi(w, mx.Writer())
	}
	ctx, cancel := withDuration(ctx, cfg.duration)
	defer cancel()
	n, runErr := streamEvents(ctx, p.Run, tracer.NewDecoder(syms, reasons), w, cfg.count)
	if err := stdout.Flush(); runErr == nil {
		runErr = err
	}
	seen, lost, err := p.Stats()
	if err == nil {
		fmt.Fprintf(os.Stderr, "droptrace: %d path events reported, %d matched in the kernel, %d events lost\n", n, seen, lost)
	}
	return runErr
}

func closePath(p *tracer.PathTracer) {
	p.Close()
	fmt.Fprintf(os.Stderr, "droptrace: detached %d probes in %v\n", p.Probes(), p.DetachTime.Round(time.Millisecond))
}

func announcePath(p *tracer.PathTracer, spec filter.Spec) {
	why := ""
	if len(p.Why()) > 0 {
		why = " (" + strings.Join(p.Why(), "; ") + ")"
	}
	fmt.Fprintf(os.Stderr, "droptrace: backend %s%s\n", p.Backend(), why)
	fmt.Fprintf(os.Stderr, "droptrace: attached %d probes (%d functions, %d tracepoints, %d refused by the kernel) in %v\n",
		p.Probes(), len(p.Plan.Funcs), len(p.Plan.Tracepoints), len(p.Plan.Skipped), p.AttachTime.Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "droptrace: tracing packet paths, filters: %s; Ctrl-C to stop\n", spec)
}

// listFuncs prints what --trace would probe, and exits.
func listFuncs(w io.Writer, cfg *config, syms *kernel.Symbols) error {
	kspec, err := kernelSpec()
	if err != nil {
		return err
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

// progressBar redraws one line on a terminal while probes attach.
func progressBar(w io.Writer) kernel.Progress {
	last := time.Time{}
	return func(done, total int) {
		if done < total && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		width := 30
		fill := width * done / max(total, 1)
		fmt.Fprintf(w, "\rdroptrace: attaching [%s%s] %d/%d", strings.Repeat("#", fill), strings.Repeat(".", width-fill), done, total)
		if done == total {
			fmt.Fprint(w, "\r\x1b[K")
		}
	}
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
