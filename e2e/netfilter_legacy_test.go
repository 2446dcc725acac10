package e2e

import (
	"testing"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/netfilter/nftest"
)

// TestNetfilterLegacy: the router's rules loaded with iptables-legacy and
// ip6tables-legacy (x_tables, no nftables rule): every drop (INPUT,
// FORWARD with policy DROP, OUTPUT, a user-defined chain, each REJECT
// type) is reported by droptrace -o json with its own rule, hook, verdict,
// reject type and iptables-legacy -S text, by counter; the REJECT
// replies are linked; iptables-legacy-save (counters aside) is the same
// after.
func TestNetfilterLegacy(t *testing.T) {
	requireRoot(t)
	tp := nftest.NewTopo(t)
	nftest.AddLegacyRules(t, tp)
	nftest.KeepRuleset(t, tp.Router)
	probes := nftest.IptablesProbes(tp)
	oracle := nftest.NewLegacyOracle(t, tp, probes)
	tr := startTracer(t, "-o", "json", "--filter-netns", tp.Router)
	events := probeEvents(t, tr, probes)
	tr.stop(t)
	for i, p := range probes {
		nf := events[i].Netfilter
		nftest.Check(t, p, nf, oracle, event.CertaintyCounter)
		checkCtState(t, p, nf, "")
		checkReply(t, p, nf)
	}
	t.Logf("stderr:\n%s", tr.stderr.String())
}

// TestNetfilterLegacySummary: TestNetfilterSummary with the rules loaded
// by iptables-legacy: --summary splits the rows per rule by the x_tables
// counters, and the metrics label them by position (x_tables rules have
// no handle).
func TestNetfilterLegacySummary(t *testing.T) {
	summaryByRule(t, nftest.AddLegacyRules, func(*testing.T, string, string) map[int]uint64 {
		return map[int]uint64{3: 3, 5: 5}
	})
}
