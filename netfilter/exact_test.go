package netfilter

import (
	"testing"

	"github.com/google/nftables"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/netfilter/nftest"
)

// kernelRuleOf is what the kernel reports for the probe's drop, with the
// handle the ruleset gives its rule: a test of what the annotator makes
// of it (the VM tests take it from the kernel).
func kernelRuleOf(t *testing.T, rs *Ruleset, p nftest.Probe) *event.KernelRule {
	t.Helper()
	fam := map[string]nftables.TableFamily{"ip": nftables.TableFamilyIPv4, "ip6": nftables.TableFamilyIPv6, "inet": nftables.TableFamilyINet}[p.Family]
	kr := &event.KernelRule{Family: uint8(fam), Table: p.Table, Chain: p.Chain, Policy: p.Position == 0}
	for i, h := range hookNames {
		if h == p.Hook {
			kr.Hook = uint8(i)
		}
	}
	for _, tb := range rs.Tables {
		if tb.Family != fam || tb.Name != p.Table {
			continue
		}
		if c := tb.Chain(p.Chain); c != nil && p.Position > 0 {
			kr.Handle = c.Rules[p.Position-1].Handle
		}
	}
	if !kr.Policy && kr.Handle == 0 {
		t.Fatalf("%s: no rule %d in %s %s/%s", p.Name(), p.Position, p.Family, p.Table, p.Chain)
	}
	return kr
}

// TestExactAttribution: a drop the kernel named is reported with
// certainty exact, its text, position, verdict and reject type read from
// the namespace's ruleset; a chain the kernel could not name is found by
// the handle; an unreadable namespace still gets table, chain and handle.
func TestExactAttribution(t *testing.T) {
	requireRoot(t)
	tp := nftest.NewTopo(t)
	nftest.AddIptablesRules(t, tp)
	nftest.KeepRuleset(t, tp.Router)
	ino := nftest.Inode(t, tp.Router)
	r, err := OpenReader("/run/netns/"+tp.Router, ino)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rs, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	probes := nftest.IptablesProbes(tp)
	oracle := nftest.NewOracle(t, tp, probes)
	a := testAnnotator(t)
	for _, p := range probes {
		ev := eventOf(t, p)
		ev.KernelRule = kernelRuleOf(t, rs, p)
		if p.Position == 1 {
			ev.KernelRule.Chain = "" // past the walk's bound
		}
		a.Annotate(ev)
		nftest.Check(t, p, ev.Netfilter, oracle, event.CertaintyExact)
	}
	if s := a.Stats(); s.Exact != uint64(len(probes)) || s.Reads != 1 {
		t.Errorf("stats %+v: want %d exact from one read", s, len(probes))
	}
	t.Run("ruleset not read", func(t *testing.T) {
		p := probes[0]
		ev := eventOf(t, p)
		ev.Netns = 1 // no such namespace
		ev.KernelRule = kernelRuleOf(t, rs, p)
		a.Annotate(ev)
		nf := ev.Netfilter
		want := event.NetfilterRule{Handle: ev.KernelRule.Handle}
		if nf == nil || nf.Certainty != event.CertaintyExact || nf.Table != "filter" || nf.Chain != "INPUT" ||
			nf.Hook != "input" || nf.Family != "ip" || nf.Rule == nil || *nf.Rule != want {
			t.Errorf("got %+v, want exact filter/INPUT input ip rule %+v", nf, want)
		}
	})
}
