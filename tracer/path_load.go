package tracer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/tracer/attach"
)

// load creates the shared maps and verifies the programs of the path's
// ends and of the backend while discovery runs, then, with its plan, the
// tracepoints' programs; then it attaches the backend's probes and the
// skb tracepoints.
func (p *PathTracer) load(ctx context.Context, cfg PathConfig, kspec *btf.Spec, spec *ebpf.CollectionSpec, discovered func() (Plan, error)) error {
	t0 := time.Now()
	p.tpCookies = attach.RawTracepointCookies(kspec)
	// Whether a probe sees every free is a constant of every program,
	// known for sure only after discovery: guessed from the few
	// functions that free skbs, and loaded again in the rare case the
	// guess was wrong.
	checkHead := !p.functionBackend() || !attach.HasGoneFunc(kspec, p.syms, cfg.Funcs)
	if err := p.configure(spec, cfg, kspec, checkHead); err != nil {
		return err
	}
	p.Timings.since("configure", t0)
	// One cache for every load: without it each per-target program
	// parses vmlinux (and module) BTF again. It is safe for the
	// parallel attach workers.
	cache := btf.NewCache()
	t0 = time.Now()
	if err := p.createMaps(spec, kspec, cache); err != nil {
		return err
	}
	early := p.baseProgs()
	wait := p.startLoads(spec, kspec, cache, early)
	plan, err := discovered()
	if err != nil {
		return errors.Join(err, p.addProgs(wait()))
	}
	p.Plan = plan
	if err := p.addProgs(wait()); err != nil {
		return err
	}
	if p.seesEveryFree() == checkHead {
		p.Timings.since("load-early-wasted", t0)
		for _, name := range early {
			p.base.Programs[name].Close()
			delete(p.base.Programs, name)
		}
		if err := setConstants(spec, map[string]any{bpf.TraceVarCfgCheckHead: boolByte(!checkHead)}); err != nil {
			return err
		}
		if err := p.addProgs(p.startLoads(spec, kspec, cache, early)()); err != nil {
			return err
		}
	}
	p.Timings.since("load-early", t0)
	// The tracepoints' programs are verified, then the tracepoints
	// attached (before 6.10, with one verification each), while the
	// functions attach: the two wait on different things in the kernel.
	targets := p.tracepointTargets()
	tpErr := make(chan error, 1)
	var tpProgs map[string]*ebpf.Program
	t0 = time.Now()
	go func() {
		var err error
		tpProgs, err = p.startLoads(spec, kspec, cache, p.tracepointProgs(targets))()
		p.Timings.since("load-tracepoints", t0)
		if err == nil {
			err = p.attachTracepoints(ctx, spec, cache, targets, tpProgs, cfg.Progress)
			p.Timings.since("tracepoints", t0)
		}
		tpErr <- err
	}()
	err = p.attachEnds()
	p.Timings.since("attach-ends", t0)
	if err == nil {
		err = p.attachFuncs(ctx, spec, cache, cfg.Progress)
		p.Timings.since("funcs", t0)
	}
	err = errors.Join(err, <-tpErr)
	return errors.Join(err, p.addProgs(tpProgs, nil))
}

func (p *PathTracer) configure(spec *ebpf.CollectionSpec, cfg PathConfig, kspec *btf.Spec, checkHead bool) error {
	params, err := kernel.TracepointParams(kspec, "kfree_skb")
	if err != nil {
		return err
	}
	if err := InjectExpr(spec, cfg.Filter.Expr, kspec); err != nil {
		return err
	}
	if err := setConstants(spec, traceConstants(cfg, params >= 3, checkHead, p.tpCookies)); err != nil {
		return err
	}
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		return fmt.Errorf("counting CPUs: %w", err)
	}
	p.ring = newStepGeometry(cpus, cfg.Stack)
	return p.ring.apply(spec)
}

// functionBackend says whether the backend probes kernel functions.
func (p *PathTracer) functionBackend() bool {
	return p.backend != attach.BackendTracepoint && p.backend != ""
}

// seesEveryFree says whether a probe ends the path of every freed skb:
// a function backend with kfree_skbmem or napi_skb_cache_put attached.
// Without, an skb freed where no tracepoint fires (TCP's __kfree_skb)
// leaves its entry, and the programs tell a reused address by its data
// buffer and its packet's identity (cfg_check_head).
func (p *PathTracer) seesEveryFree() bool {
	if !p.functionBackend() {
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
// whether no probe sees every free (seesEveryFree); tpCookies whether
// tracepoint programs get an attach cookie (6.10+).
func traceConstants(cfg PathConfig, hasReason, checkHead, tpCookies bool) map[string]any {
	return map[string]any{
		bpf.TraceVarFilters:        bpf.TraceFilterCfg(filterConfig(cfg.Filter)),
		bpf.TraceVarCfgStack:       boolByte(cfg.Stack),
		bpf.TraceVarCfgTpHasReason: boolByte(hasReason),
		bpf.TraceVarCfgCheckHead:   boolByte(checkHead),
		bpf.TraceVarCfgTpCookie:    boolByte(tpCookies),
	}
}

// baseProgs are the programs of the shared collection that do not
// depend on discovery: the path's ends and the backend's programs (the
// per-target ones, fentry, are loaded separately).
func (p *PathTracer) baseProgs() []string {
	progs := []string{bpf.TraceProgTpKfreeSkb, bpf.TraceProgTpConsumeSkb}
	switch p.backend {
	case attach.BackendKprobeMulti:
		progs = append(progs, bpf.TraceProgKprobeMultiStart, bpf.TraceProgKprobeMultiFollow)
	case attach.BackendKprobe:
		// kprobe-multi's two programs, loaded as plain kprobe ones:
		// the attach cookie gives the skb's position there too, so two
		// verifications serve every position.
		progs = append(progs, bpf.TraceProgKprobeMultiStart, bpf.TraceProgKprobeMultiFollow)
	}
	return progs
}

// programSpec is the spec of program name as the backend loads it:
// with the kprobe backend, kprobe-multi's programs become plain kprobe
// programs.
func (p *PathTracer) programSpec(spec *ebpf.CollectionSpec, name string) *ebpf.ProgramSpec {
	ps := spec.Programs[name].Copy()
	if p.backend == attach.BackendKprobe && ps.AttachType == ebpf.AttachTraceKprobeMulti {
		ps.AttachType = ebpf.AttachNone
	}
	return ps
}

// tracepointProgs are the shared collection's programs for the
// tracepoint targets: with raw tracepoint cookies one per role and
// position; before, none (each target gets a tp_btf copy).
func (p *PathTracer) tracepointProgs(targets []attach.Probe) []string {
	if !p.tpCookies {
		return nil
	}
	var progs []string
	seen := map[string]bool{}
	for _, t := range targets {
		if name := p.tracepointProg(t); !seen[name] {
			seen[name] = true
			progs = append(progs, name)
		}
	}
	return progs
}

// createMaps creates the shared maps, in the base collection. The step
// maps are sized in spec itself (configure): every program loaded later
// shares base's, whose spec must match them.
func (p *PathTracer) createMaps(spec *ebpf.CollectionSpec, kspec *btf.Spec, cache *btf.Cache) error {
	cs := spec.Copy()
	cs.Programs = map[string]*ebpf.ProgramSpec{}
	coll, err := ebpf.NewCollectionWithOptions(cs, ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: kspec}, Cache: cache})
	if err != nil {
		return fmt.Errorf("creating path maps: %w", err)
	}
	p.base = coll
	return nil
}

// startLoads starts loading the named programs of the trace object, in
// parallel: each is verified on its own, and the verifier is most of
// the time it takes to be ready. The function it returns waits for
// them and returns those loaded, by name.
func (p *PathTracer) startLoads(spec *ebpf.CollectionSpec, kspec *btf.Spec, cache *btf.Cache, names []string) func() (map[string]*ebpf.Program, error) {
	progs := make([]*ebpf.Program, len(names))
	errs := make([]error, len(names))
	repl, taskRepl := p.replacements(false), p.taskReplacements(spec, names)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prog, maps := specName(name), repl
			if prog != name {
				maps = taskRepl
			}
			progs[i], errs[i] = loadOne(spec, spec.Variables, prog, p.programSpec(spec, prog), maps, kspec, cache)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("loading %s: %s", name, verbose(errs[i]))
			}
		}()
	}
	return func() (map[string]*ebpf.Program, error) {
		wg.Wait()
		loaded := map[string]*ebpf.Program{}
		for i, name := range names {
			if progs[i] != nil {
				loaded[name] = progs[i]
			}
		}
		if err := errors.Join(errs...); err != nil {
			return loaded, fmt.Errorf("loading path programs: %w", err)
		}
		return loaded, nil
	}
}

// addProgs adds loaded programs to the base collection, which closes
// them, and passes err on.
func (p *PathTracer) addProgs(progs map[string]*ebpf.Program, err error) error {
	for name, prog := range progs {
		p.base.Programs[name] = prog
	}
	return err
}

func (p *PathTracer) attachEnds() error {
	for _, name := range []string{bpf.TraceProgTpKfreeSkb, bpf.TraceProgTpConsumeSkb} {
		l, err := link.AttachTracing(link.TracingOptions{Program: p.base.Programs[name], AttachType: ebpf.AttachTraceRawTp})
		if err != nil {
			return fmt.Errorf("attaching %s: %w", name, err)
		}
		p.tps.Add(l)
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
	p.role = attach.FuncRoles(p.Plan.Funcs)
	groups := attach.ByRole(p.Plan.Funcs, p.role)
	switch p.backend {
	case attach.BackendKprobeMulti:
		groups = multiGroups(p.Plan.Funcs, p.role)
	case attach.BackendKprobe:
		// One parallel attach for all: the cookie says the role.
		groups = map[attach.Role][]attach.Probe{attach.RoleFollow: p.Plan.Funcs}
	}
	for role, funcs := range groups {
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
	switch p.backend {
	case attach.BackendKprobeMulti:
		return p.attachMulti(ctx, role, funcs, progress)
	case attach.BackendKprobe:
		return attach.AttachKprobes(ctx, p.attach, p.kprobeProg, multiCookie, funcs, progress)
	}
	return attach.AttachTracing(ctx, p.attach, p.fentryLoader(spec, cache, role), funcs, progress)
}

// replacements makes per-target programs share the base collection's
// maps, so every probe feeds the same step rings and tracked set.
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

// taskReplacements are the maps of the programs' task copies (taskCopy)
// among names: the base collection's, but the step buffer, which is
// their own, so that a program of softirq that interrupts one between
// filling its step and writing it (trace.c, step_buf) finds the other
// buffer, and neither step is lost. nil when names has no task copy, or
// the buffer cannot be created (the copies then share the base's).
func (p *PathTracer) taskReplacements(spec *ebpf.CollectionSpec, names []string) map[string]*ebpf.Map {
	if !slices.ContainsFunc(names, func(n string) bool { return specName(n) != n }) {
		return nil
	}
	repl := p.replacements(false)
	steps, err := ebpf.NewMap(spec.Maps[bpf.TraceMapSteps])
	if err != nil {
		return repl
	}
	p.taskSteps = steps
	repl[bpf.TraceMapSteps] = steps
	return repl
}

// fentryLoader loads the fentry program of role against one function. The program
// shares every map, .rodata included, with the base collection.
func (p *PathTracer) fentryLoader(spec *ebpf.CollectionSpec, cache *btf.Cache, role attach.Role) attach.Loader {
	repl := p.replacements(false)
	return func(pr attach.Probe) (*ebpf.Program, error) {
		name := roleProg("fentry", role, pr.Pos)
		ps := spec.Programs[name].Copy()
		ps.AttachTo = pr.Name
		return loadOne(spec, spec.Variables, name, ps, repl, nil, cache)
	}
}

// loadOne loads program ps alone, with the maps of spec (those in repl
// are shared, not created) and the given variable values. cache holds
// the kernel BTF shared by every load; kspec, when not nil, is the
// kernel BTF the caller decoded already.
func loadOne(spec *ebpf.CollectionSpec, vars map[string]*ebpf.VariableSpec, name string, ps *ebpf.ProgramSpec, repl map[string]*ebpf.Map, kspec *btf.Spec, cache *btf.Cache) (*ebpf.Program, error) {
	cs := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{}, Programs: map[string]*ebpf.ProgramSpec{name: ps}, Variables: vars, Types: spec.Types}
	for n, m := range spec.Maps {
		cs.Maps[n] = m.Copy()
		if _, shared := repl[n]; shared {
			cs.Maps[n].Contents = nil // the base filled it (the rings)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(cs, ebpf.CollectionOptions{MapReplacements: repl, Programs: ebpf.ProgramOptions{KernelTypes: kspec}, Cache: cache})
	if err != nil {
		return nil, err
	}
	defer coll.Close()
	return coll.DetachProgram(name), nil
}

// tracepointTargets lists the skb tracepoints but the two that end a
// path, and names their steps in p.steps: the probe id of p.steps[i] is
// i+1.
func (p *PathTracer) tracepointTargets() []attach.Probe {
	var targets []attach.Probe
	for _, tp := range p.Plan.Tracepoints {
		if tp.Name == "kfree_skb" || tp.Name == "consume_skb" {
			continue
		}
		targets = append(targets, tp)
		p.steps = append(p.steps, TracepointStep(tp.Name))
	}
	return targets
}

// attachTracepoints attaches every target. With raw tracepoint cookies
// (6.10+) the base collection's programs serve all of them, the cookie
// carrying the probe id; before, each gets a tp_btf copy whose own
// .rodata carries it.
func (p *PathTracer) attachTracepoints(ctx context.Context, spec *ebpf.CollectionSpec, cache *btf.Cache, targets []attach.Probe, progs map[string]*ebpf.Program, progress attach.Progress) error {
	if p.backend != attach.BackendTracepoint {
		progress = nil // the functions' attach reports progress
	}
	var skipped []string
	var err error
	if p.tpCookies {
		skipped, err = p.attachSharedTracepoints(ctx, targets, progs, progress)
	} else {
		skipped, err = attach.AttachTracing(ctx, p.tps, p.tracepointLoader(spec, cache), targets, progress)
	}
	p.mu.Lock()
	p.Plan.Skipped = append(p.Plan.Skipped, skipped...)
	p.mu.Unlock()
	return err
}

// probeID is the probe id of tracepoint name.
func (p *PathTracer) probeID(name string) uint32 {
	step := TracepointStep(name)
	for i, n := range p.steps {
		if n == step {
			return uint32(i + 1)
		}
	}
	return 0
}

// attachSharedTracepoints attaches the base collection's tracepoint
// programs with the probe id as cookie: raw_tp, and tp_btf for
// net_dev_xmit, whose typed arguments it reads.
func (p *PathTracer) attachSharedTracepoints(ctx context.Context, targets []attach.Probe, progs map[string]*ebpf.Program, progress attach.Progress) ([]string, error) {
	var raw []attach.Probe
	var skipped []string
	for _, t := range targets {
		if p.tracepointProg(t) != bpf.TraceProgTpNetDevXmit {
			raw = append(raw, t)
			continue
		}
		l, err := attach.AttachRawTracepoint(progs[bpf.TraceProgTpNetDevXmit], "", uint64(p.probeID(t.Name)))
		if err != nil {
			skipped = append(skipped, t.Name)
			continue
		}
		p.tps.Add(l)
	}
	prog := func(t attach.Probe) *ebpf.Program { return progs[p.tracepointProg(t)] }
	cookie := func(t attach.Probe) uint64 { return uint64(p.probeID(t.Name)) }
	sk, err := attach.AttachRawTracepoints(ctx, p.tps, prog, cookie, raw, progress)
	return append(skipped, sk...), err
}

// tracepointLoader loads a tp_btf copy for one tracepoint, its probe id
// in its own .rodata.
func (p *PathTracer) tracepointLoader(spec *ebpf.CollectionSpec, cache *btf.Cache) attach.Loader {
	repl := p.replacements(true)
	return func(pr attach.Probe) (*ebpf.Program, error) {
		name := p.tracepointProg(pr)
		vars := make(map[string]*ebpf.VariableSpec, len(spec.Variables))
		for n, v := range spec.Variables {
			vars[n] = v.Copy()
		}
		if err := vars[bpf.TraceVarCfgProbeId].Set(p.probeID(pr.Name)); err != nil {
			return nil, err
		}
		ps := spec.Programs[name].Copy()
		ps.AttachTo = pr.Name
		return loadOne(spec, vars, name, ps, repl, nil, cache)
	}
}

// tracepointProg is the program for an skb tracepoint: start where the
// skb is surely live, blind elsewhere; net_dev_xmit's reads the length
// and device the tracepoint passes. raw_tp with cookies, else tp_btf.
// Shared raw_tp programs have a second copy (taskCopy) for the
// tracepoints that fire in a task, which softirq's would interrupt.
func (p *PathTracer) tracepointProg(pr attach.Probe) string {
	if pr.Name == "net_dev_xmit" {
		return bpf.TraceProgTpNetDevXmit
	}
	kind, role := "tp", "blind"
	if p.tpCookies {
		kind = "raw_tp"
	}
	if attach.TracepointRole(pr.Name) == attach.RoleStart {
		role = "start"
	}
	name := fmt.Sprintf("%s_%s_%d", kind, role, pr.Pos)
	if p.tpCookies && attach.InTask(pr.Name) {
		name += taskCopy
	}
	return name
}

// taskCopy ends the name of a program's second copy (tracepointProg).
const taskCopy = "@task"

// specName is the name in the trace object of the program name is (a
// copy of).
func specName(name string) string {
	n, _, _ := strings.Cut(name, taskCopy)
	return n
}

// Cookies of the kprobe-multi programs (bpf/trace.c): the skb's position
// in the low byte, cookieGone at functions that free its memory.
const cookieGone = 0x100

// multiGroups splits funcs between kprobe-multi's two programs: start,
// and follow, which also serves the gone probes.
func multiGroups(funcs []attach.Probe, role func(attach.Probe) attach.Role) map[attach.Role][]attach.Probe {
	by := attach.ByRole(funcs, role)
	by[attach.RoleFollow] = append(by[attach.RoleFollow], by[attach.RoleGone]...)
	delete(by, attach.RoleGone)
	return by
}

// attachMulti attaches funcs with the kprobe-multi program of role, one
// link, each function by its kallsyms address with its position (and
// whether it is a gone probe) as cookie.
func (p *PathTracer) attachMulti(ctx context.Context, role attach.Role, funcs []attach.Probe, progress attach.Progress) ([]string, error) {
	prog := p.base.Programs[bpf.TraceProgKprobeMultiFollow]
	if role == attach.RoleStart {
		prog = p.base.Programs[bpf.TraceProgKprobeMultiStart]
	}
	var skipped []string
	targets := make([]attach.MultiTarget, 0, len(funcs))
	for _, f := range funcs {
		addr, ok := p.syms.Lookup(f.Name)
		if !ok {
			skipped = append(skipped, f.Name)
			continue
		}
		targets = append(targets, attach.MultiTarget{Name: f.Name, Addr: uintptr(addr), Cookie: multiCookie(f)})
	}
	sk, err := attach.AttachKprobeMulti(ctx, p.attach, prog, targets, progress)
	return append(skipped, sk...), err
}

// multiCookie is the attach cookie of function f for kprobe-multi's
// programs: its skb's position, and whether it is a gone probe.
func multiCookie(f attach.Probe) uint64 {
	cookie := uint64(f.Pos)
	if attach.FuncRole(f) == attach.RoleGone {
		cookie |= cookieGone
	}
	return cookie
}

// kprobeProg is the program of function f with the kprobe backend:
// kprobe-multi's start or follow program (which serves gone probes too),
// loaded as a plain kprobe one.
func (p *PathTracer) kprobeProg(f attach.Probe) *ebpf.Program {
	if p.role(f) == attach.RoleStart {
		return p.base.Programs[bpf.TraceProgKprobeMultiStart]
	}
	return p.base.Programs[bpf.TraceProgKprobeMultiFollow]
}
