package nftest

import (
	"slices"
	"strconv"
	"testing"

	"github.com/droptrace/droptrace/event"
)

// Oracle is the rule text the tools print, by family and chain ("ip/INPUT",
// "inet/input"): iptables -S's lines, nft -a list's lines with their
// "# handle N".
type Oracle map[string][]string

// NewOracle reads the router's rules with iptables -S, ip6tables -S and
// nft -a list for the chains the probes name.
func NewOracle(t testing.TB, tp *Topo, probes []Probe) Oracle {
	o := Oracle{}
	var nft map[string][]string
	for _, p := range probes {
		key := p.Family + "/" + p.Chain
		if _, ok := o[key]; ok {
			continue
		}
		if p.Family == "inet" {
			if nft == nil {
				nft = NftRuleTexts(t, tp)
			}
			o[key] = nft[p.Chain]
			continue
		}
		o[key] = IptablesS(t, tp, p.Family, p.Chain)
	}
	return o
}

// Check fails the test unless nf names the probe's rule (or policy), hook,
// verdict and reject type, with one of the certainties.
func Check(t testing.TB, p Probe, nf *event.Netfilter, o Oracle, certainties ...string) {
	t.Helper()
	name := p.Name()
	if nf == nil {
		t.Errorf("%s: not attributed", name)
		return
	}
	if !slices.Contains(certainties, nf.Certainty) {
		t.Errorf("%s: certainty %s, want one of %v (candidates %+v)", name, nf.Certainty, certainties, nf.Candidates)
		return
	}
	if nf.Hook != p.Hook || nf.Family != p.Family || nf.Table != p.Table || nf.Chain != p.Chain || nf.Verdict != p.Verdict ||
		nf.RejectWith != p.RejectWith || nf.Policy != (p.Position == 0) || len(nf.Candidates) != 0 {
		t.Errorf("%s: got %+v, want hook %s %s %s/%s %s %q policy %v", name, nf, p.Hook, p.Family, p.Table, p.Chain,
			p.Verdict, p.RejectWith, p.Position == 0)
	}
	if p.Position == 0 {
		if nf.Rule != nil {
			t.Errorf("%s: policy drop with a rule: %+v", name, nf.Rule)
		}
		return
	}
	texts := o[p.Family+"/"+p.Chain]
	if nf.Rule == nil || p.Position > len(texts) {
		t.Errorf("%s: rule %+v, want #%d of %q", name, nf.Rule, p.Position, texts)
		return
	}
	got, want := nf.Rule.Text, texts[p.Position-1]
	if p.Family == "inet" {
		got += " # handle " + strconv.FormatUint(nf.Rule.Handle, 10)
	}
	if nf.Rule.Position != p.Position || got != want {
		t.Errorf("%s: rule #%d %q, want #%d %q", name, nf.Rule.Position, got, p.Position, want)
	}
}
