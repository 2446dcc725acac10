package tracer

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/tracer/attach"
)

// TestCheckHeadKeepsOneCopyOfTheFilters loads the path programs on this
// kernel with and without cfg_check_head (the checks of a tracked skb
// where no probe sees every free) and compares the instructions the
// verifier processed. The checks add a few loads per program; a program
// that runs the filters a second time (on a tracked skb that turns out
// to be another) makes the verifier walk them twice or three times, which
// under qemu is seconds of start-up per program, and with fentry per
// function. The instruction counts are the kernel's own (LogLevelStats),
// compared within one kernel, so the bound holds whatever its version.
func TestCheckHeadKeepsOneCopyOfTheFilters(t *testing.T) {
	requireRoot(t)
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	cookies := attach.RawTracepointCookies(kspec)
	// The programs as the tracepoint backend (which this host has) and
	// the function backends load them; loading a kprobe-multi program
	// needs no kprobe support, attaching it does.
	progs := []string{bpf.TraceProgTpKfreeSkb, bpf.TraceProgTpConsumeSkb, bpf.TraceProgTpStart1,
		bpf.TraceProgKprobeMultiStart, bpf.TraceProgKprobeMultiFollow}
	// Filters on the port and protocol, as the usual --filter-port.
	cfg := PathConfig{Filter: filter.Spec{Port: 5201, Proto: 6}}
	insns := func(checkHead bool, name string) int {
		spec, err := bpf.LoadTrace()
		if err != nil {
			t.Fatal(err)
		}
		if err := setConstants(spec, traceConstants(cfg, true, checkHead, cookies)); err != nil {
			t.Fatal(err)
		}
		ps := spec.Programs[name].Copy()
		if name == bpf.TraceProgTpStart1 {
			ps.AttachTo = "netif_receive_skb" // a tracepoint with the skb first
		}
		cs := &ebpf.CollectionSpec{Maps: spec.Maps, Programs: map[string]*ebpf.ProgramSpec{name: ps}, Variables: spec.Variables, Types: spec.Types}
		coll, err := ebpf.NewCollectionWithOptions(cs, ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{LogLevel: ebpf.LogLevelStats, KernelTypes: kspec}})
		if err != nil {
			t.Fatalf("loading %s (cfg_check_head %v): %s", name, checkHead, verbose(err))
		}
		defer coll.Close()
		m := regexp.MustCompile(`processed (\d+) insns`).FindStringSubmatch(coll.Programs[name].VerifierLog)
		if m == nil {
			t.Fatalf("%s: no instruction count in the verifier's log:\n%s", name, coll.Programs[name].VerifierLog)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	for _, name := range progs {
		without, with := insns(false, name), insns(true, name)
		t.Logf("%s: %d instructions processed, %d with cfg_check_head", name, without, with)
		if with > 2*without {
			t.Errorf("%s: cfg_check_head makes the verifier process %d instructions against %d: more than twice, as if the filters were inlined twice", name, with, without)
		}
	}
}
