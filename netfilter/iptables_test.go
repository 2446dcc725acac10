package netfilter

import (
	"testing"
	"time"

	"github.com/droptrace/droptrace/netfilter/nftest"
)

// TestIptablesAttribution drops a packet with each rule and checks that
// each drop is attributed to its own rule, with hook, verdict and reject
// type, by counters.
func TestIptablesAttribution(t *testing.T) {
	requireRoot(t)
	tp := nftest.NewTopo(t)
	nftest.AddIptablesRules(t, tp)
	nftest.KeepRuleset(t, tp.Router)
	a := testAnnotator(t)
	if err := a.Prime(nftest.Inode(t, tp.Router)); err != nil {
		t.Fatal(err)
	}
	probes := nftest.IptablesProbes(tp)
	oracle := nftest.NewOracle(t, tp, probes)
	for _, p := range probes {
		p.Send(t)
		ev := eventOf(t, p)
		a.Annotate(ev)
		nftest.Check(t, p, ev.Netfilter, oracle, "counter")
	}
	t.Logf("stats: %+v", a.Stats())
	// Without counters, replaying the rules alone names the same ones: a
	// fresh annotator, and drops dated before its first read, so that no
	// two reads enclose them.
	replay := testAnnotator(t)
	for _, p := range probes {
		ev := eventOf(t, p)
		ev.Time = ev.Time.Add(-time.Hour)
		replay.Annotate(ev)
		nftest.Check(t, p, ev.Netfilter, oracle, "replayed")
	}
}
