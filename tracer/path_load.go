package tracer

import (
	"context"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/tracer/attach"
)

// load creates the shared maps and the path's end programs, then attaches
// the backend's probes and the skb tracepoints.
func (p *PathTracer) load(ctx context.Context, cfg PathConfig, kspec *btf.Spec) error {
	spec, err := bpf.LoadTrace()
	if err != nil {
		return fmt.Errorf("reading the embedded BPF object: %w", err)
	}
	if err := p.configure(spec, cfg, kspec); err != nil {
		return err
	}
	// One cache for every load: without it each per-target program
	// parses vmlinux (and module) BTF again. It is safe for the
	// parallel attach workers.
	cache := btf.NewCache()
	if err := p.loadBase(spec, kspec, cache); err != nil {
		return err
	}
	if err := p.attachEnds(); err != nil {
		return err
	}
	if err := p.attachFuncs(ctx, spec, cache, cfg.Progress); err != nil {
		return err
	}
	return p.attachTracepoints(ctx, spec, cache, cfg.Progress)
}

func (p *PathTracer) configure(spec *ebpf.CollectionSpec, cfg PathConfig, kspec *btf.Spec) error {
	params, err := kernel.TracepointParams(kspec, "kfree_skb")
	if err != nil {
		return err
	}
	if err := InjectExpr(spec, cfg.Filter.Expr, kspec); err != nil {
		return err
	}
	return setConstants(spec, traceConstants(cfg, params >= 3))
}

// traceConstants are the values of the trace object's volatile consts for
// cfg, but cfg_probe_id, which attachTracepoints sets per copy.
// hasReason says whether kfree_skb passes a reason (5.17+).
func traceConstants(cfg PathConfig, hasReason bool) map[string]any {
	return map[string]any{
		bpf.TraceVarFilters:        bpf.TraceFilterCfg(filterConfig(cfg.Filter)),
		bpf.TraceVarCfgStack:       boolByte(cfg.Stack),
		bpf.TraceVarCfgTpHasReason: boolByte(hasReason),
	}
}

// baseProgs are the programs of the shared collection for a backend; the
// per-target ones (fentry, tp_btf) are loaded separately.
func baseProgs(b attach.Backend) []string {
	progs := []string{bpf.TraceProgTpKfreeSkb, bpf.TraceProgTpConsumeSkb}
	for pos := 1; pos <= attach.MaxSkbParam; pos++ {
		switch b {
		case attach.BackendKprobe:
			progs = append(progs, fmt.Sprintf("kprobe_skb_%d", pos))
		case attach.BackendKprobeMulti:
			progs = append(progs, fmt.Sprintf("kprobe_multi_skb_%d", pos))
		}
	}
	return progs
}

func (p *PathTracer) loadBase(spec *ebpf.CollectionSpec, kspec *btf.Spec, cache *btf.Cache) error {
	cs := spec.Copy()
	cs.Programs = map[string]*ebpf.ProgramSpec{}
	for _, name := range baseProgs(p.backend) {
		cs.Programs[name] = spec.Programs[name]
	}
	coll, err := ebpf.NewCollectionWithOptions(cs, ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: kspec}, Cache: cache})
	if err != nil {
		return fmt.Errorf("loading path programs: %s", verbose(err))
	}
	p.base = coll
	return nil
}

func (p *PathTracer) attachEnds() error {
	for _, name := range []string{bpf.TraceProgTpKfreeSkb, bpf.TraceProgTpConsumeSkb} {
		l, err := link.AttachTracing(link.TracingOptions{Program: p.base.Programs[name], AttachType: ebpf.AttachTraceRawTp})
		if err != nil {
			return fmt.Errorf("attaching %s: %w", name, err)
		}
		p.ends = append(p.ends, l)
	}
	return nil
}

func (p *PathTracer) posProgs(format string) (progs [attach.MaxSkbParam]*ebpf.Program) {
	for pos := 1; pos <= attach.MaxSkbParam; pos++ {
		progs[pos-1] = p.base.Programs[fmt.Sprintf(format, pos)]
	}
	return progs
}

func (p *PathTracer) attachFuncs(ctx context.Context, spec *ebpf.CollectionSpec, cache *btf.Cache, progress attach.Progress) error {
	var skipped []string
	var err error
	switch p.backend {
	case attach.BackendKprobeMulti:
		skipped, err = attach.AttachKprobeMulti(ctx, p.attach, p.posProgs("kprobe_multi_skb_%d"), p.Plan.Funcs, progress)
	case attach.BackendKprobe:
		skipped, err = attach.AttachKprobes(ctx, p.attach, p.posProgs("kprobe_skb_%d"), p.Plan.Funcs, progress)
	case attach.BackendFentry:
		skipped, err = attach.AttachTracing(ctx, p.attach, p.fentryLoader(spec, cache), p.Plan.Funcs, progress)
	default:
		p.Plan.Funcs = nil
		return nil
	}
	p.Plan.Skipped = append(p.Plan.Skipped, skipped...)
	if err == nil && len(p.Plan.Funcs) > 0 && len(skipped) == len(p.Plan.Funcs) {
		err = fmt.Errorf("the kernel refused all %d %s probes", len(skipped), p.backend)
	}
	return err
}

// replacements makes per-target programs share the base collection's
// maps, so every probe feeds the same ring buffer and tracked set.
func (p *PathTracer) replacements(keepRodata bool) map[string]*ebpf.Map {
	m := map[string]*ebpf.Map{}
	for name, mp := range p.base.Maps {
		if keepRodata && name == ".rodata" {
			continue
		}
		m[name] = mp
	}
	return m
}

// fentryLoader loads fentry_skb_<pos> against one function. The program
// shares every map, .rodata included, with the base collection.
func (p *PathTracer) fentryLoader(spec *ebpf.CollectionSpec, cache *btf.Cache) attach.Loader {
	repl := p.replacements(false)
	return func(pr attach.Probe) (*ebpf.Program, error) {
		name := fmt.Sprintf("fentry_skb_%d", pr.Pos)
		ps := spec.Programs[name].Copy()
		ps.AttachTo = pr.Name
		return loadOne(spec, spec.Variables, name, ps, repl, cache)
	}
}

// loadOne loads program ps alone, with the maps of spec (those in repl
// are shared, not created) and the given variable values. cache holds
// the kernel BTF shared by every load.
func loadOne(spec *ebpf.CollectionSpec, vars map[string]*ebpf.VariableSpec, name string, ps *ebpf.ProgramSpec, repl map[string]*ebpf.Map, cache *btf.Cache) (*ebpf.Program, error) {
	cs := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{}, Programs: map[string]*ebpf.ProgramSpec{name: ps}, Variables: vars, Types: spec.Types}
	for n, m := range spec.Maps {
		cs.Maps[n] = m.Copy()
	}
	coll, err := ebpf.NewCollectionWithOptions(cs, ebpf.CollectionOptions{MapReplacements: repl, Cache: cache})
	if err != nil {
		return nil, err
	}
	defer coll.Close()
	return coll.DetachProgram(name), nil
}

// attachTracepoints attaches a tp_btf copy to every skb tracepoint but
// the two that end a path. Each copy has its own .rodata whose
// cfg_probe_id tells user space which tracepoint fired.
func (p *PathTracer) attachTracepoints(ctx context.Context, spec *ebpf.CollectionSpec, cache *btf.Cache, progress attach.Progress) error {
	var targets []attach.Probe
	for _, tp := range p.Plan.Tracepoints {
		if tp.Name == "kfree_skb" || tp.Name == "consume_skb" {
			continue
		}
		targets = append(targets, tp)
		p.tracepoints = append(p.tracepoints, tp.Name)
	}
	ids := map[string]uint32{}
	for i, name := range p.tracepoints {
		ids[name] = uint32(i + 1)
	}
	repl := p.replacements(true)
	load := func(pr attach.Probe) (*ebpf.Program, error) {
		name := fmt.Sprintf("tp_skb_%d", pr.Pos)
		vars := make(map[string]*ebpf.VariableSpec, len(spec.Variables))
		for n, v := range spec.Variables {
			vars[n] = v.Copy()
		}
		if err := vars[bpf.TraceVarCfgProbeId].Set(ids[pr.Name]); err != nil {
			return nil, err
		}
		ps := spec.Programs[name].Copy()
		ps.AttachTo = pr.Name
		return loadOne(spec, vars, name, ps, repl, cache)
	}
	skipped, err := attach.AttachTracing(ctx, p.attach, load, targets, progress)
	p.Plan.Skipped = append(p.Plan.Skipped, skipped...)
	return err
}
