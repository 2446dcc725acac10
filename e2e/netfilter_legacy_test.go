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
	checkAttributions(t, tp, probes, nftest.NewLegacyOracle(t, tp, probes), "", event.CertaintyCounter)
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
