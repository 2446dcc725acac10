package tracer

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/tracer/attach"
)

// ErrNoFuncMatch means the function filter leaves nothing to probe.
var ErrNoFuncMatch = errors.New("no traceable skb function matches")

// ErrBackend wraps the reason a backend asked for cannot be used.
var ErrBackend = errors.New("not usable on this kernel")

// PathConfig says which packets to follow, and how to attach.
type PathConfig struct {
	Filter   filter.Spec
	Backend  attach.Backend // "" chooses the best one that works
	Funcs    *regexp.Regexp // narrows the probed functions; nil for all
	Stack    bool
	Progress attach.Progress
	Decoder  *Decoder
	// KernelTypes is vmlinux's BTF, when the caller has it loaded
	// already (nil: OpenPath loads it). Sharing it shares the decoded
	// types: decoding them all takes seconds on a slow machine.
	KernelTypes *btf.Spec
}

// PathTracer follows skbs through kernel functions and tracepoints.
type PathTracer struct {
	mu          sync.Mutex       // Plan.Skipped, while functions and tracepoints attach
	base        *ebpf.Collection // maps, and the kfree_skb/consume_skb programs
	ends        []link.Link
	attach      *attach.Attachment
	backend     attach.Backend
	why         []string
	tracepoints []string // index+1 is the probe id the tracepoint programs report
	tpCookies   bool     // tracepoint programs take the probe id from the attach cookie (6.10+)
	Plan        Plan
	AttachTime  time.Duration
	DetachTime  time.Duration // set by the first Detach that removed probes
	Timings     Timings       // phases of OpenPath, Detach and Close
	probes      int
	syms        *kernel.Symbols
	dec         *Decoder
}

// Plan is what discovery found and attach did.
type Plan struct {
	Funcs       []attach.Probe // functions to probe (none for the tracepoint backend)
	Tracepoints []attach.Probe // skb tracepoints, kfree_skb and consume_skb included
	Skipped     []string       // probes the kernel refused
}

// Discover lists the probes path tracing would attach: every traceable
// function with an skb parameter matching re, and every skb tracepoint.
func Discover(kspec *btf.Spec, syms *kernel.Symbols, re *regexp.Regexp) (Plan, error) {
	funcs, tps, err := attach.SkbProbes(kspec)
	if err != nil {
		return Plan{}, err
	}
	if funcs, err = attach.Traceable(funcs, syms, re); err != nil {
		return Plan{}, err
	}
	return Plan{Funcs: funcs, Tracepoints: tps}, nil
}

// OpenPath discovers, loads and attaches. On error, or when ctx ends
// mid-attach, everything attached so far is detached again.
func OpenPath(ctx context.Context, cfg PathConfig, syms *kernel.Symbols) (*PathTracer, error) {
	p := &PathTracer{attach: &attach.Attachment{}, syms: syms, dec: cfg.Decoder}
	t0 := time.Now()
	kspec := cfg.KernelTypes
	if kspec == nil {
		var err error
		if kspec, err = btf.LoadKernelSpec(); err != nil {
			return nil, fmt.Errorf("reading kernel BTF: %w", err)
		}
	}
	p.Timings.since("btf", t0)
	// The embedded object is parsed while discovery decodes BTF: both
	// take seconds on a slow machine, and there are two CPUs or more.
	objc := make(chan objResult, 1)
	go func() {
		spec, err := bpf.LoadTrace()
		objc <- objResult{spec, err}
	}()
	t0 = time.Now()
	plan, err := Discover(kspec, syms, cfg.Funcs)
	if err != nil {
		return nil, err
	}
	if cfg.Funcs != nil && len(plan.Funcs) == 0 {
		return nil, fmt.Errorf("%w %q", ErrNoFuncMatch, cfg.Funcs)
	}
	p.Plan = plan
	p.Timings.since("discover", t0)
	t0 = time.Now()
	if err := p.chooseBackend(cfg.Backend, plan); err != nil {
		return nil, err
	}
	p.Timings.since("backend", t0)
	start := time.Now()
	obj := <-objc
	if obj.err != nil {
		return nil, fmt.Errorf("reading the embedded BPF object: %w", obj.err)
	}
	p.Timings.since("object", start)
	if err := p.load(ctx, cfg, kspec, obj.spec); err != nil {
		p.Close()
		return nil, err
	}
	p.AttachTime = time.Since(start)
	p.probes = len(plan.Funcs) + len(plan.Tracepoints) - len(p.Plan.Skipped)
	if p.backend == attach.BackendTracepoint {
		p.probes = len(plan.Tracepoints) - len(p.Plan.Skipped)
	}
	return p, nil
}

// objResult is the parsed trace object, or why it could not be.
type objResult struct {
	spec *ebpf.CollectionSpec
	err  error
}

func (p *PathTracer) chooseBackend(want attach.Backend, plan Plan) error {
	// A backend is tried on ip_rcv, which every kernel has and every
	// backend can probe, whatever functions the user narrowed the set to:
	// one that refuses a particular function is still a working backend
	// (that function is skipped and counted).
	probeFn := "ip_rcv"
	if !p.syms.Has(probeFn) && len(plan.Funcs) > 0 {
		probeFn = plan.Funcs[0].Name
	}
	if want != "" {
		if err := attach.ProbeBackend(want, probeFn); err != nil {
			return fmt.Errorf("%w: %v", ErrBackend, err)
		}
		p.backend = want
		return nil
	}
	b, why, err := attach.ChooseBackend(probeFn)
	p.backend, p.why = b, why
	return err
}

// Backend is the backend in use.
func (p *PathTracer) Backend() attach.Backend { return p.backend }

// Why says, for each backend better than the one in use, why it was not used.
func (p *PathTracer) Why() []string { return p.why }

// Probes returns how many functions and tracepoints were probed.
func (p *PathTracer) Probes() int { return p.probes }

// Detach removes every probe; events already sent stay readable.
func (p *PathTracer) Detach() error {
	if n := p.attach.Len() + len(p.ends); n > 0 {
		start := time.Now()
		defer func() { p.DetachTime = time.Since(start) }()
	}
	var errs []error
	t0 := time.Now()
	for _, l := range p.ends {
		errs = append(errs, l.Close())
	}
	p.ends = nil
	p.Timings.since("detach-ends", t0)
	t0 = time.Now()
	errs = append(errs, p.attach.Close())
	p.Timings.since("detach-probes", t0)
	return errors.Join(errs...)
}

// Close detaches and frees everything.
func (p *PathTracer) Close() error {
	err := p.Detach()
	if p.base != nil {
		t0 := time.Now()
		p.base.Close()
		p.Timings.since("close-maps", t0)
	}
	return err
}

// Stats returns how many events matched and how many were lost.
func (p *PathTracer) Stats() (seen, lost uint64, err error) {
	return seenLost(p.base.Maps[bpf.TraceMapStats])
}

// Run reads events until ctx ends or emit returns ErrStop.
func (p *PathTracer) Run(ctx context.Context, emit func(*event.Event) error, idle func() error) error {
	decode := func(raw []byte, ev *event.Event) error {
		return p.dec.DecodePath(raw, ev, p.tracepoints)
	}
	return readRings(ctx, []*ebpf.Map{p.base.Maps[bpf.TraceMapEvents]}, func() { p.Detach() }, decode, emit, idle)
}
