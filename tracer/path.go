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
	// Prepared is the work Prepare(Backend) started, or nil (OpenPath
	// starts it then).
	Prepared *Prepared
	// KernelTypes is vmlinux's BTF, when the caller has it loaded
	// already (nil: OpenPath loads it). Sharing it shares the decoded
	// types: decoding them all takes seconds on a slow machine.
	KernelTypes *btf.Spec
}

// PathTracer follows skbs through kernel functions and tracepoints.
type PathTracer struct {
	mu         sync.Mutex         // Plan.Skipped, while functions and tracepoints attach
	base       *ebpf.Collection   // maps, and the kfree_skb/consume_skb programs
	ring       stepGeometry       // the step rings, in base's step_ring and step_pos
	attach     *attach.Attachment // the function probes
	tps        *attach.Attachment // the tracepoints, kfree_skb and consume_skb included
	backend    attach.Backend
	role       func(attach.Probe) attach.Role // each function's among those probed (attach.FuncRoles)
	why        []string
	steps      []string  // the tracepoints' step names; index+1 is the probe id their programs report
	tpCookies  bool      // tracepoint programs take the probe id from the attach cookie (6.10+)
	taskSteps  *ebpf.Map // the step buffer of the programs' task copies (taskReplacements)
	Plan       Plan
	AttachTime time.Duration
	DetachTime time.Duration // set by the first Detach that removed probes
	Timings    Timings       // phases of OpenPath, Detach and Close
	probes     int
	syms       *kernel.Symbols
	dec        *Decoder
}

// Plan is what discovery found and attach did.
type Plan struct {
	Funcs       []attach.Probe // functions to probe (none for the tracepoint backend)
	Tracepoints []attach.Probe // skb tracepoints, kfree_skb and consume_skb included
	Skipped     []string       // probes the kernel refused
}

// Discover lists the probes path tracing would attach: every traceable
// function with an skb parameter matching re, and every skb tracepoint
// whose skb a path can reach.
func Discover(kspec *btf.Spec, syms *kernel.Symbols, re *regexp.Regexp) (Plan, error) {
	funcs, tps, err := attach.SkbProbes(kspec)
	if err != nil {
		return Plan{}, err
	}
	tps = attach.PathTracepoints(tps)
	if funcs, err = attach.Traceable(funcs, syms, re); err != nil {
		return Plan{}, err
	}
	return Plan{Funcs: funcs, Tracepoints: tps}, nil
}

// OpenPath discovers, loads and attaches. On error, or when ctx ends
// mid-attach, everything attached so far is detached again.
func OpenPath(ctx context.Context, cfg PathConfig, syms *kernel.Symbols) (*PathTracer, error) {
	p := &PathTracer{attach: &attach.Attachment{}, tps: &attach.Attachment{}, syms: syms, dec: cfg.Decoder}
	t0 := time.Now()
	kspec := cfg.KernelTypes
	if kspec == nil {
		var err error
		if kspec, err = btf.LoadKernelSpec(); err != nil {
			return nil, fmt.Errorf("reading kernel BTF: %w", err)
		}
	}
	p.Timings.since("btf", t0)
	// Discovery decodes every BTF type while the embedded object is
	// parsed and the backend tried (Prepare), each on a CPU of its own:
	// each takes up to seconds on a slow machine. The programs that do not
	// depend on what discovery finds are verified while it runs (load).
	prep := cfg.Prepared
	if prep == nil || prep.want != cfg.Backend {
		prep = Prepare(cfg.Backend)
	}
	planc := make(chan planResult, 1)
	t0 = time.Now()
	go func() {
		plan, err := Discover(kspec, syms, cfg.Funcs)
		p.Timings.since("discover", t0)
		planc <- planResult{plan, err}
	}()
	var (
		plan     Plan
		planErr  error
		planOnce sync.Once
	)
	discovered := func() (Plan, error) {
		planOnce.Do(func() {
			r := <-planc
			plan, planErr = r.plan, r.err
			if planErr == nil && cfg.Funcs != nil && len(plan.Funcs) == 0 {
				planErr = fmt.Errorf("%w %q", ErrNoFuncMatch, cfg.Funcs)
			}
		})
		return plan, planErr
	}
	start := time.Now()
	<-prep.backendDone
	b := prep.backend
	if b.err != nil && !syms.Has(backendProbeFunc) {
		// Try again on a function discovery finds.
		if _, err := discovered(); err != nil {
			return nil, err
		}
		if len(plan.Funcs) > 0 {
			b = chooseBackend(cfg.Backend, plan.Funcs[0].Name)
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	p.backend, p.why = b.backend, b.why
	if p.backend == attach.BackendKprobe {
		p.attach.Workers = attach.KprobeDetachWorkers
	}
	p.Timings.since("backend", start)
	t0 = time.Now()
	<-prep.objDone
	obj := prep.obj
	if obj.err != nil {
		return nil, fmt.Errorf("reading the embedded BPF object: %w", obj.err)
	}
	p.Timings.since("object", t0)
	if err := p.load(ctx, cfg, kspec, obj.spec, discovered); err != nil {
		p.Close()
		return nil, err
	}
	p.AttachTime = time.Since(start)
	p.probes = len(p.Plan.Funcs) + len(p.Plan.Tracepoints) - len(p.Plan.Skipped)
	if p.backend == attach.BackendTracepoint {
		p.probes = len(p.Plan.Tracepoints) - len(p.Plan.Skipped)
	}
	return p, nil
}

// planResult is what discovery found, or why it failed.
type planResult struct {
	plan Plan
	err  error
}

// backendProbeFunc is the function a backend is tried on: every kernel
// has it and every backend can probe it.
const backendProbeFunc = "ip_rcv"

// objResult is the parsed trace object, or why it could not be.
type objResult struct {
	spec *ebpf.CollectionSpec
	err  error
}

// Prepared is the work OpenPath starts with that needs neither kernel
// BTF, kallsyms nor the filters: parsing the embedded BPF object and
// trying the backend. A caller that starts it first (Prepare) has it
// done while it reads BTF and kallsyms.
type Prepared struct {
	want        attach.Backend
	objDone     chan struct{} // closed when obj is set
	obj         objResult
	backendDone chan struct{} // closed when backend is set
	backend     backendResult
}

// backendResult is the backend to use, or why there is none.
type backendResult struct {
	backend attach.Backend
	why     []string
	err     error
}

// Prepare starts parsing the embedded object and trying backend want ("":
// the best one that works), in the background. Pass the result to one
// OpenPath with the same backend, in PathConfig.Prepared (it uses the
// object as it is: one OpenPath per Prepared).
func Prepare(want attach.Backend) *Prepared {
	pr := &Prepared{want: want, objDone: make(chan struct{}), backendDone: make(chan struct{})}
	go func() {
		defer close(pr.objDone)
		spec, err := bpf.LoadTrace()
		pr.obj = objResult{spec, err}
	}()
	go func() {
		defer close(pr.backendDone)
		pr.backend = chooseBackend(want, backendProbeFunc)
	}()
	return pr
}

// chooseBackend tries want on function fn, or, when want is "", finds
// the best backend that works. Backends are tried on ip_rcv, which every
// kernel has and every backend can probe, whatever functions the user
// narrowed the set to: one that refuses a particular function is still
// a working backend (that function is skipped and counted).
func chooseBackend(want attach.Backend, fn string) backendResult {
	if want != "" {
		if err := attach.ProbeBackend(want, fn); err != nil {
			return backendResult{err: fmt.Errorf("%w: %v", ErrBackend, err)}
		}
		return backendResult{backend: want}
	}
	b, why, err := attach.ChooseBackend(fn)
	return backendResult{b, why, err}
}

// Backend is the backend in use.
func (p *PathTracer) Backend() attach.Backend { return p.backend }

// Why says, for each backend better than the one in use, why it was not used.
func (p *PathTracer) Why() []string { return p.why }

// Probes returns how many functions and tracepoints were probed.
func (p *PathTracer) Probes() int { return p.probes }

// Detach removes every probe; events already sent stay readable. The
// tracepoints go while the functions go: a kprobe's detach waits for
// grace periods under a kernel mutex the tracepoints do not take.
func (p *PathTracer) Detach() error {
	if p.attach.Len()+p.tps.Len() == 0 {
		return nil
	}
	start := time.Now()
	defer func() { p.DetachTime = time.Since(start) }()
	tpErr := make(chan error, 1)
	t0 := time.Now()
	go func() {
		err := p.tps.Close()
		p.Timings.since("detach-tracepoints", t0)
		tpErr <- err
	}()
	err := p.attach.Close()
	p.Timings.since("detach-funcs", t0)
	return errors.Join(err, <-tpErr)
}

// Close detaches and frees everything.
func (p *PathTracer) Close() error {
	err := p.Detach()
	if p.base != nil {
		t0 := time.Now()
		p.base.Close()
		p.Timings.since("close-maps", t0)
	}
	if p.taskSteps != nil {
		p.taskSteps.Close()
	}
	return err
}

// Stats returns how many events matched and how many were lost.
func (p *PathTracer) Stats() (seen, lost uint64, err error) {
	return stepSeenLost(p.base.Maps[bpf.TraceMapStats], p.base.Maps[bpf.TraceMapStepPos])
}

// Run reads events until ctx ends or emit returns ErrStop.
func (p *PathTracer) Run(ctx context.Context, emit func(*event.Event) error, idle func() error) error {
	decode := func(raw []byte, ev *event.Event) error {
		return p.dec.DecodePath(raw, ev, p.steps)
	}
	rings, err := openStepRings(p.base.Maps[bpf.TraceMapStepRing], p.base.Maps[bpf.TraceMapStepPos], p.ring)
	if err != nil {
		return err
	}
	defer rings.Close()
	wake := wakeMaps{p.base.Maps[bpf.TraceMapReaderFlag], p.base.Maps[bpf.TraceMapWake]}
	return readReaders(ctx, rings.readers, wake, func() { p.Detach() }, decode, emit, idle)
}
