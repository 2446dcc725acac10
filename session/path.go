package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/droptrace/droptrace/cli"
	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/tracer"
)

// Path is path tracing (--trace): matching packets followed through
// every kernel function and tracepoint that gets an skb, to their drop.
type Path struct {
	Tracer   tracer.PathConfig
	Syms     *kernel.Symbols
	Backend  string // --backend as given, for errors
	Outputs  Outputs
	Stdout   *Buffer
	Stderr   io.Writer
	Count    int
	Duration time.Duration
	Metrics  Metrics
	// Pods names the steps' namespaces by pod, container or ip netns
	// name, as drop mode does; CRIEndpoint as Annotations'.
	Pods        bool
	CRIEndpoint string
	// Attached, if not nil, is called once every probe is attached
	// (cmd/droptrace starts reading the drop reasons' names then).
	Attached func()
}

// Run attaches the probes and reports paths until ctx ends.
func (p *Path) Run(ctx context.Context) error {
	w, err := p.Outputs.Events(ctx)
	if err != nil {
		return err
	}
	if IsTerminal(os.Stderr) {
		p.Tracer.Progress = ProgressBar(p.Stderr)
	}
	// The namespaces' names are read while the probes attach.
	names := make(chan namesResult, 1)
	go func() { an, err := p.names(ctx); names <- namesResult{an, err} }()
	pt, err := tracer.OpenPath(ctx, p.Tracer, p.Syms)
	nr := <-names
	if nr.an != nil {
		defer nr.an.close()
	}
	if err == nil && nr.err != nil {
		pt.Close()
		return nr.err
	}
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(p.Stderr, "droptrace: interrupted while attaching; every probe attached so far was detached")
		return nil
	case errors.Is(err, tracer.ErrNoFuncMatch):
		return cli.Usagef("--filter-func: %v", err)
	case errors.Is(err, tracer.ErrBackend):
		return fmt.Errorf("--backend %s: %w", p.Backend, err)
	case err != nil:
		return err
	}
	defer ClosePath(p.Stderr, pt)
	AnnouncePath(p.Stderr, pt, p.Tracer.Filter)
	if p.Attached != nil {
		p.Attached()
	}
	if err := ctx.Err(); err != nil {
		return nil // interrupted while attaching: Close detaches
	}
	mx, err := p.Metrics.start(ctx, p.Stderr, pt, nil, false)
	if err != nil {
		return err
	}
	if mx != nil {
		w = event.Multi(w, mx.Writer())
	}
	w = nr.an.writer(w)
	ctx, cancel := WithDuration(ctx, p.Duration)
	defer cancel()
	s := &Stream{Source: pt, Out: w, Count: p.Count, Buf: p.Stdout}
	n, err := s.Run(ctx)
	ReportPath(p.Stderr, pt, n)
	return err
}

type namesResult struct {
	an  *annotators
	err error
}

// names opens what names the steps' namespaces: with Pods, the pods'
// resolver alone of drop mode's annotators.
func (p *Path) names(ctx context.Context) (*annotators, error) {
	if !p.Pods {
		return &annotators{}, nil
	}
	return Annotations{Pods: true, CRIEndpoint: p.CRIEndpoint}.open(ctx, p.Stderr, false)
}

// ListFuncs prints what --trace would probe, and exits.
func ListFuncs(w, stderr io.Writer, syms *kernel.Symbols, funcs *regexp.Regexp) error {
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		return fmt.Errorf("reading kernel BTF (droptrace needs a kernel built with CONFIG_DEBUG_INFO_BTF): %w", err)
	}
	plan, err := tracer.Discover(kspec, syms, funcs)
	if err != nil {
		return err
	}
	for _, f := range plan.Funcs {
		fmt.Fprintf(w, "%s\t%d\n", f.Name, f.Pos)
	}
	for _, tp := range plan.Tracepoints {
		fmt.Fprintf(w, "tp:%s\t%d\n", tp.Name, tp.Pos)
	}
	fmt.Fprintf(stderr, "droptrace: %d functions, %d tracepoints\n", len(plan.Funcs), len(plan.Tracepoints))
	return nil
}
