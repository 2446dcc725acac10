package guest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/e2e/pcapcorpus"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/pcapfilter"
	"github.com/droptrace/droptrace/tracer"
)

// linkLayerExprs need the Ethernet header: their raw IP form is the stub
// that matches nothing, which must load too.
var linkLayerExprs = []string{"vlan 100", "arp", "ether[12:2] == 0x0800", "vlan and tcp port 80", "not vlan"}

// TestPcapFilterLoads has this kernel's verifier check every expression
// of the e2e differential corpus, compiled for both kinds of data: each
// filter body alone, as a program whose arguments are unknown numbers, as
// they are to the body in droptrace's programs (verifying the whole drop
// program for each would take minutes under emulation); then a sample,
// the deepest stack users among them, injected into the drop programs,
// where the body's stack adds to its callers'.
func TestPcapFilterLoads(t *testing.T) {
	requireVM(t)
	exprs := append(slices.Clone(pcapcorpus.Exprs), linkLayerExprs...)
	for _, expr := range exprs {
		for _, link := range []pcapfilter.Link{pcapfilter.Ethernet, pcapfilter.RawIP} {
			if err := verifyBody(expr, link); err != nil {
				t.Errorf("%q (%s): %v", expr, link, err)
			}
		}
	}
	t.Logf("%d expressions verified alone", len(exprs))
	base, err := bpf.LoadDrop()
	if err != nil {
		t.Fatal(err)
	}
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	maps := dropMaps(t, base, kspec)
	for _, expr := range dropSample {
		progs := []string{bpf.DropProgKfreeSkbBtf, bpf.DropProgKfreeSkbTp}
		if err := loadWithExpr(base, kspec, maps, expr, progs); err != nil {
			t.Errorf("%q in the drop programs: %v", expr, err)
		}
	}
	t.Logf("%d expressions verified in the drop programs", len(dropSample))
}

// dropSample are expressions of the corpus that use the most of the
// filter's stack (arithmetic keeps scratch slots there) or the most
// loads, and one that needs the link layer.
var dropSample = []string{
	"ip[2:2] + 14 == len", "len - 14 > 620", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
	"tcp and not (src host 10.199.1.1 or dst port 8000)", "portrange 8000-8100", "vlan and tcp port 80",
}

// verifyBody loads the filter body of expr for link as a program of its
// own, with unknown numbers in R1-R3. An expression that needs the link
// layer does not compile for raw IP: Open then injects a body that
// matches nothing.
func verifyBody(expr string, link pcapfilter.Link) error {
	body, err := pcapfilter.Compile(expr, link)
	if err != nil && link == pcapfilter.RawIP && slices.Contains(linkLayerExprs, expr) {
		return nil
	}
	if err != nil {
		return err
	}
	insns := asm.Instructions{
		asm.FnKtimeGetNs.Call(),
		asm.Mov.Reg(asm.R1, asm.R0),
		asm.Mov.Reg(asm.R2, asm.R0),
		asm.Mov.Reg(asm.R3, asm.R0),
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.Kprobe, License: "GPL", Instructions: append(insns, body...)})
	if err != nil {
		return fmt.Errorf("%+v", err)
	}
	return prog.Close()
}

// dropMaps creates the drop object's maps once, for every load to share.
func dropMaps(t *testing.T, base *ebpf.CollectionSpec, kspec *btf.Spec) map[string]*ebpf.Map {
	t.Helper()
	spec := base.Copy()
	spec.Programs = map[string]*ebpf.ProgramSpec{}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: kspec}})
	if err != nil {
		t.Fatalf("creating the drop maps: %v", err)
	}
	t.Cleanup(coll.Close)
	maps := map[string]*ebpf.Map{}
	for name, m := range coll.Maps {
		if !strings.HasPrefix(name, ".") { // each load has its own constants
			maps[name] = m
		}
	}
	return maps
}

// loadWithExpr loads progs of the drop object with expr injected and
// snaplen set, as Open does, and unloads them.
func loadWithExpr(base *ebpf.CollectionSpec, kspec *btf.Spec, maps map[string]*ebpf.Map, expr string, progs []string) error {
	spec := base.Copy()
	if err := tracer.InjectExpr(spec, expr, kspec); err != nil {
		return err
	}
	if err := spec.Variables[bpf.DropVarFilters].Set(bpf.DropFilterCfg{PcapOn: 1}); err != nil {
		return err
	}
	if err := spec.Variables[bpf.DropVarCfgSnaplen].Set(uint32(128)); err != nil {
		return err
	}
	keep := map[string]*ebpf.ProgramSpec{}
	for _, name := range progs {
		keep[name] = spec.Programs[name]
	}
	spec.Programs = keep
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{
		Programs: ebpf.ProgramOptions{KernelTypes: kspec}, MapReplacements: maps,
	})
	if err != nil {
		return fmt.Errorf("%+v", err)
	}
	coll.Close()
	return nil
}

// TestPcapFilterDrops filters loopback drops with an expression instead
// of the flags, on both hooks: each datagram to the closed port is
// reported once, and nothing else.
func TestPcapFilterDrops(t *testing.T) {
	requireVM(t)
	for _, hook := range []string{tracer.HookTpBTF, tracer.HookTracepoint} {
		t.Run(hook, func(t *testing.T) {
			port := closedPort(t)
			expr := fmt.Sprintf("udp dst port %d and (ip or ip6) and not tcp[tcpflags] & tcp-syn != 0", port)
			tr, err := tracer.Open(tracer.Config{Filter: filter.Spec{Expr: expr}, Hook: hook, Decoder: newDecoder(t, loadKallsyms(t))})
			if err != nil {
				t.Fatalf("opening tracer: %+v", err)
			}
			defer tr.Close()
			c := startCollector(tr)
			sent := sendAll(t, port)
			checkDrops(t, sent, c.stop(t, len(sent)))
			checkStats(t, tr, len(sent))
		})
	}
}
