package tracer

import (
	"context"
	"errors"
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
	// The tracepoints load (one verification each) while the functions
	// attach: the two wait on different things in the kernel.
	tpErr := make(chan error, 1)
	go func() { tpErr <- p.attachTracepoints(ctx, spec, cache, cfg.Progress) }()
	err = p.attachFuncs(ctx, spec, cache, cfg.Progress)
	return errors.Join(err, <-tpErr)
}

func (p *PathTracer) configure(spec *ebpf.CollectionSpec, cfg PathConfig, kspec *btf.Spec) error {
	params, err := kernel.TracepointParams(kspec, "kfree_skb")
	if err != nil {
		return err
	}
	if err := InjectExpr(spec, cfg.Filter.Expr, kspec); err != nil {
		return err
	}
	return setConstants(spec, traceConstants(cfg, params >= 3, !p.seesEveryFree()))
}

// seesEveryFree says whether a probe ends the path of every freed skb:
// a function backend with kfree_skbmem or napi_skb_cache_put attached.
// Without, an skb freed where no tracepoint fires (TCP's __kfree_skb)
// leaves its entry, and the programs tell a reused address by its data
// buffer (cfg_check_head).
func (p *PathTracer) seesEveryFree() bool {
	if p.backend == attach.BackendTracepoint || p.backend == "" {
		return false
	}
	for _, f := range p.Plan.Funcs {
		if attach.FuncRole(f) == attach.RoleGone {
			return true
		}
	}
	return false
}

// traceConstants are the values of the trace object's volatile consts for
// cfg, but cfg_probe_id, which attachTracepoints sets per copy.
// hasReason says whether kfree_skb passes a reason (5.17+); checkHead
// whether no probe sees every free (seesEveryFree).
func traceConstants(cfg PathConfig, hasReason, checkHead bool) map[string]any {
	return map[string]any{
		bpf.TraceVarFilters:        bpf.TraceFilterCfg(filterConfig(cfg.Filter)),
		bpf.TraceVarCfgStack:       boolByte(cfg.Stack),
		bpf.TraceVarCfgTpHasReason: boolByte(hasReason),
		bpf.TraceVarCfgCheckHead:   boolByte(checkHead),
	}
}

// baseProgs are the programs of the shared collection for a backend; the
// per-target ones (fentry, tp_btf) are loaded separately.
func baseProgs(b attach.Backend) []string {
	progs := []string{bpf.TraceProgTpKfreeSkb, bpf.TraceProgTpConsumeSkb}
	prefix := map[attach.Backend]string{attach.BackendKprobe: "kprobe", attach.BackendKprobeMulti: "kprobe_multi"}[b]
	if prefix == "" {
		return progs
	}
	progs = append(progs, prefix+"_gone")
	for pos := 1; pos <= attach.MaxSkbParam; pos++ {
		progs = append(progs, fmt.Sprintf("%s_skb_%d", prefix, pos), fmt.Sprintf("%s_start_%d", prefix, pos))
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

// roleFormats name each role's programs, by position.
var roleFormats = map[attach.Role]string{attach.RoleFollow: "%s_skb_%d", attach.RoleStart: "%s_start_%d", attach.RoleGone: "%s_gone"}

func roleProg(prefix string, r attach.Role, pos int) string {
	if r == attach.RoleGone {
		return prefix + "_gone"
	}
	return fmt.Sprintf(roleFormats[r], prefix, pos)
}

// attachFuncs attaches the functions of each role with its programs.
func (p *PathTracer) attachFuncs(ctx context.Context, spec *ebpf.CollectionSpec, cache *btf.Cache, progress attach.Progress) error {
	if p.backend == attach.BackendTracepoint || p.backend == "" {
		p.Plan.Funcs = nil
		return nil
	}
	var skipped []string
	var errs []error
	done := 0
	for role, funcs := range attach.ByRole(p.Plan.Funcs, attach.FuncRole) {
		base := done
		prog := func(d, _ int) {
			if progress != nil {
				progress(base+d, len(p.Plan.Funcs))
			}
		}
		sk, err := p.attachRole(ctx, spec, cache, role, funcs, prog)
		skipped = append(skipped, sk...)
		errs = append(errs, err)
		done += len(funcs)
		if err != nil {
			break
		}
	}
	p.mu.Lock()
	p.Plan.Skipped = append(p.Plan.Skipped, skipped...)
	p.mu.Unlock()
	err := errors.Join(errs...)
	if err == nil && len(p.Plan.Funcs) > 0 && len(skipped) == len(p.Plan.Funcs) {
		err = fmt.Errorf("the kernel refused all %d %s probes", len(skipped), p.backend)
	}
	return err
}

func (p *PathTracer) attachRole(ctx context.Context, spec *ebpf.CollectionSpec, cache *btf.Cache, role attach.Role, funcs []attach.Probe, progress attach.Progress) ([]string, error) {
	progs := func(prefix string) (out [attach.MaxSkbParam]*ebpf.Program) {
		for pos := 1; pos <= attach.MaxSkbParam; pos++ {
			out[pos-1] = p.base.Programs[roleProg(prefix, role, pos)]
		}
		return out
	}
	switch p.backend {
	case attach.BackendKprobeMulti:
		return attach.AttachKprobeMulti(ctx, p.attach, progs("kprobe_multi"), funcs, progress)
	case attach.BackendKprobe:
		return attach.AttachKprobes(ctx, p.attach, progs("kprobe"), funcs, progress)
	}
	return attach.AttachTracing(ctx, p.attach, p.fentryLoader(spec, cache, role), funcs, progress)
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

// fentryLoader loads the fentry program of role against one function. The program
// shares every map, .rodata included, with the base collection.
func (p *PathTracer) fentryLoader(spec *ebpf.CollectionSpec, cache *btf.Cache, role attach.Role) attach.Loader {
	repl := p.replacements(false)
	return func(pr attach.Probe) (*ebpf.Program, error) {
		name := roleProg("fentry", role, pr.Pos)
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
		name := tracepointProg(pr)
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
	if p.backend != attach.BackendTracepoint {
		progress = nil // the functions' attach reports progress
	}
	skipped, err := attach.AttachTracing(ctx, p.attach, load, targets, progress)
	p.mu.Lock()
	p.Plan.Skipped = append(p.Plan.Skipped, skipped...)
	p.mu.Unlock()
	return err
}

// tracepointProg is the program for an skb tracepoint: start where the
// skb is surely live, blind elsewhere; net_dev_xmit's reads the length
// and device the tracepoint passes.
func tracepointProg(pr attach.Probe) string {
	switch {
	case pr.Name == "net_dev_xmit":
		return bpf.TraceProgTpNetDevXmit
	case attach.TracepointRole(pr.Name) == attach.RoleStart:
		return fmt.Sprintf("tp_start_%d", pr.Pos)
	}
	return fmt.Sprintf("tp_blind_%d", pr.Pos)
}
