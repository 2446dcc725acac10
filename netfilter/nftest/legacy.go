package nftest

import (
	"strings"
	"testing"
)

// AddLegacyRules adds IptablesRules to the router with iptables-legacy
// and ip6tables-legacy (x_tables), and nothing with iptables-nft.
func AddLegacyRules(t testing.TB, tp *Topo) {
	t.Helper()
	for _, tool := range []string{"iptables", "ip6tables"} {
		for _, r := range IptablesRules[tool] {
			r = strings.ReplaceAll(r, "RBIF", tp.RbIf)
			tp.In(t, tp.Router, append([]string{tool + "-legacy"}, strings.Fields(r)...)...)
		}
	}
}

// NewLegacyOracle reads the router's rules with iptables-legacy -S and
// ip6tables-legacy -S for the chains the probes name.
func NewLegacyOracle(t testing.TB, tp *Topo, probes []Probe) Oracle {
	o := Oracle{}
	for _, p := range probes {
		key := p.Family + "/" + p.Chain
		if _, ok := o[key]; !ok {
			o[key] = rulesS(t, tp, map[string]string{"ip": "iptables-legacy", "ip6": "ip6tables-legacy"}[p.Family], p.Chain)
		}
	}
	return o
}

func rulesS(t testing.TB, tp *Topo, tool, chain string) []string {
	var rules []string
	for _, line := range strings.Split(tp.In(t, tp.Router, tool, "-S", chain), "\n") {
		if strings.HasPrefix(line, "-A ") {
			rules = append(rules, line)
		}
	}
	return rules
}
