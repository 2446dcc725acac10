package guest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/e2e/pcapcorpus"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/tracer"
)

// linkLayerExprs need the Ethernet header: their raw IP form is the stub
// that matches nothing, which must load too.
var linkLayerExprs = []string{"vlan 100", "arp", "ether[12:2] == 0x0800", "vlan and tcp port 80", "not vlan"}

// TestPcapFilterLoads has this kernel's verifier check the drop programs
// with every expression of the e2e differential corpus injected: the BTF
// tracepoint's (direct skb reads) for each, the classic tracepoint's
// (CO-RE reads) for every third. Only the programs are loaded, on maps
// made once: a whole tracer.Open per expression takes too long under
// emulation. TestPcapFilterDrops opens and attaches for real.
func TestPcapFilterLoads(t *testing.T) {
	requireVM(t)
	base, err := bpf.LoadDrop()
	if err != nil {
		t.Fatal(err)
	}
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	maps := dropMaps(t, base, kspec)
	exprs := append(slices.Clone(pcapcorpus.Exprs), linkLayerExprs...)
	for i, expr := range exprs {
		progs := []string{bpf.DropProgKfreeSkbBtf}
		if i%3 == 0 {
			progs = append(progs, bpf.DropProgKfreeSkbTp)
		}
		if err := loadWithExpr(base, kspec, maps, expr, progs); err != nil {
			t.Errorf("%q: %v", expr, err)
		}
	}
	t.Logf("%d expressions verified", len(exprs))
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
	if err := tracer.InjectExpr(spec, expr); err != nil {
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
