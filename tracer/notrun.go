package tracer

import (
	"fmt"
	"maps"
	"slices"

	"github.com/cilium/ebpf"

	"github.com/droptrace/droptrace/tracer/attach"
)

// notRun sums the programs' recursion_misses (5.12+; 0 before): the
// times one of the probes a program is attached to fired while that
// program was running on the same CPU, and the kernel did not run it.
// That happens when an interrupt's probe shares a program with the probe
// it interrupted (the tracepoints share a program per role where the
// kernel gives them cookies, 6.10+), or on the kprobe backends, with any
// program of droptrace's. Whatever those runs would have sent is lost.
func notRun(sets ...map[string]*ebpf.Program) (uint64, error) {
	var n uint64
	for _, progs := range sets {
		for name, p := range progs {
			st, err := p.Stats()
			if err != nil {
				return 0, fmt.Errorf("reading the run counts of %s: %w", name, err)
			}
			n += st.RecursionMisses
		}
	}
	return n, nil
}

// NotRun returns how many probe hits the kernel did not run a program
// for, because the same program was running on that CPU: an interrupt
// hit a probe that shares it. Drops among them are lost.
func (t *Tracer) NotRun() (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	progs := []map[string]*ebpf.Program{t.coll.Programs}
	if t.prog != nil {
		progs = append(progs, t.prog.Programs)
	}
	n, err := notRun(progs...)
	return n + t.dropMissed, err
}

// retiredMisses is notRun of programs about to be closed, those whose
// counts cannot be read counting none.
func retiredMisses(progs map[string]*ebpf.Program) uint64 {
	return attach.NotRunOf(slices.Collect(maps.Values(progs)))
}

// NotRun returns how many probe hits the kernel did not run a program
// for, because the same program was running on that CPU, programs
// already detached included. Steps among them are lost.
func (p *PathTracer) NotRun() (uint64, error) {
	n, err := notRun(p.base.Programs)
	if err != nil {
		return 0, err
	}
	return n + p.attach.NotRun() + p.tps.NotRun(), nil
}
