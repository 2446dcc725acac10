package netfilter

import (
	"testing"
	"time"

	"github.com/droptrace/droptrace/netfilter/nftest"
)

// TestNftAttribution drops packets with a native ruleset that has no
// counters: each drop is named by replay, and never wrongly.
func TestNftAttribution(t *testing.T) {
	requireRoot(t)
	tp := nftest.NewTopo(t)
	nftest.AddNftRuleset(t, tp)
	nftest.KeepRuleset(t, tp.Router)
	a := testAnnotator(t)
	if err := a.Prime(nftest.Inode(t, tp.Router)); err != nil {
		t.Fatal(err)
	}
	probes := nftest.NftProbes(tp)
	oracle := nftest.NewOracle(t, tp, probes)
	for _, p := range probes {
		p.Send(t)
		ev := eventOf(t, p)
		a.Annotate(ev)
		nftest.Check(t, p, ev.Netfilter, oracle, "exact", "counter", "replayed")
	}
	t.Logf("stats: %+v", a.Stats())
	t.Run("without counter window", func(t *testing.T) { checkNftWithoutWindow(t, tp) })
	t.Run("conntrack state read", func(t *testing.T) { checkNftCtState(t, tp, oracle) })
}

// checkNftWithoutWindow replays the same drops with no counter window:
// conntrack's counts then cannot rule out "ct state invalid drop", so a
// drop by a later rule has both as candidates, and one by an earlier rule
// is still replayed.
func checkNftWithoutWindow(t *testing.T, tp *nftest.Topo) {
	a := testAnnotator(t)
	for _, p := range nftest.NftProbes(tp) {
		ev := eventOf(t, p)
		ev.Time = ev.Time.Add(-time.Hour)
		a.Annotate(ev)
		nf := ev.Netfilter
		afterCt := p.Hook == "input" && !(p.Chain == "input" && p.Position == 1)
		switch {
		case nf == nil:
			t.Errorf("%s/%d: not attributed", p.Proto, p.Dport)
		case !afterCt && nf.Certainty != "replayed":
			t.Errorf("%s/%d: %+v, want replayed", p.Proto, p.Dport, nf)
		case afterCt && (nf.Certainty != "candidates" || len(nf.Candidates) != 2 ||
			nf.Candidates[0].Rule.Text != "ct state invalid drop" || nf.Candidates[1].Chain != p.Chain ||
			nf.Candidates[1].Rule.Position != p.Position):
			t.Errorf("%s/%d: %+v, want candidates ct state invalid and %s #%d", p.Proto, p.Dport, nf, p.Chain, p.Position)
		}
	}
}

// checkNftCtState replays the same drops with no counter window but with
// the conntrack state the drop program reads: a new packet's drop is
// replayed past "ct state invalid drop", and an invalid packet is dropped
// by it.
func checkNftCtState(t *testing.T, tp *nftest.Topo, oracle nftest.Oracle) {
	a := testAnnotator(t)
	for _, p := range nftest.NftProbes(tp) {
		ev := eventOf(t, p)
		ev.Time, ev.CTState = ev.Time.Add(-time.Hour), 8 // new
		a.Annotate(ev)
		nftest.Check(t, p, ev.Netfilter, oracle, "replayed")
		if nf := ev.Netfilter; nf != nil && nf.CtState != "new" {
			t.Errorf("%s: ct_state %q, want new", p.Name(), nf.CtState)
		}
		if p.Hook != "input" || (p.Chain == "input" && p.Position == 1) {
			continue
		}
		ev = eventOf(t, p)
		ev.Time, ev.CTState = ev.Time.Add(-time.Hour), 1 // invalid
		a.Annotate(ev)
		inv := p
		inv.Chain, inv.Position, inv.Verdict, inv.RejectWith = "input", 2, "DROP", ""
		nftest.Check(t, inv, ev.Netfilter, oracle, "replayed")
	}
}
