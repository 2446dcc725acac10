package netfilter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nftRuleset is a native inet table without counters: a set lookup, a
// ct state rule, both reject kinds, an anonymous set, a jump, policies.
const nftRuleset = `table inet fw {
	set blocked {
		type ipv4_addr
		elements = { 10.77.1.3 }
	}
	chain input {
		type filter hook input priority filter; policy accept;
		ip daddr @blocked drop
		ct state invalid drop
		tcp dport 9100 reject with tcp reset
		udp dport 9101 reject
		udp dport { 9102, 9103 } drop
		ip6 daddr fd77:1::2 tcp dport 9104 drop
		iifname "IFACE" tcp dport 9105-9110 jump sub
		ip saddr 10.77.1.0/24 udp dport 9120 reject with icmpx admin-prohibited
	}
	chain sub {
		tcp dport 9106 drop
		reject with icmpx host-unreachable
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		meta l4proto { icmp, ipv6-icmp } accept
		udp dport 4000 reject
	}
	chain output {
		type filter hook output priority filter; policy accept;
		udp dport 9200 drop
	}
}
`

func addNftRuleset(t *testing.T, tp *topo) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ruleset.nft")
	if err := os.WriteFile(f, []byte(strings.ReplaceAll(nftRuleset, "IFACE", tp.rcIf)), 0o644); err != nil {
		t.Fatal(err)
	}
	tp.in(t, tp.router, "nft", "-f", f)
}

func nftProbes(tp *topo) []probe {
	in := func(proto, dst string, sport, dport uint16, chain, verdict, with string, pos int) probe {
		src := client4
		if strings.Contains(dst, ":") {
			src = client6
		}
		return probe{from: tp.client, proto: proto, src: src, dst: dst, sport: sport, dport: dport,
			dropNs: tp.router, dropIf: tp.rcIf, hook: "input", chain: chain, family: "inet", verdict: verdict, rejectWith: with, position: pos}
	}
	return []probe{
		in("tcp", blocked4, 42001, 80, "input", "DROP", "", 1),
		in("tcp", router4, 42002, 9100, "input", "REJECT", "tcp-reset", 3),
		in("udp", router4, 42003, 9101, "input", "REJECT", "icmp-port-unreachable", 4),
		in("udp", router6, 42004, 9101, "input", "REJECT", "icmp6-port-unreachable", 4),
		in("udp", router4, 42005, 9103, "input", "DROP", "", 5),
		in("tcp", router6, 42006, 9104, "input", "DROP", "", 6),
		in("tcp", router4, 42007, 9106, "sub", "DROP", "", 1),
		in("tcp", router4, 42008, 9107, "sub", "REJECT", "icmp-host-unreachable", 2),
		in("udp", router4, 42009, 9120, "input", "REJECT", "icmp-admin-prohibited", 8),
		{from: tp.client, proto: "udp", src: client4, dst: back4, sport: 42010, dport: 4000, dropNs: tp.router, dropIf: tp.rcIf,
			hook: "forward", chain: "forward", family: "inet", verdict: "REJECT", rejectWith: "icmp-port-unreachable", position: 2},
		{from: tp.client, proto: "tcp", src: client6, dst: back6, sport: 42011, dport: 22, dropNs: tp.router, dropIf: tp.rcIf,
			hook: "forward", chain: "forward", family: "inet", verdict: "DROP", position: 0},
		{from: tp.router, proto: "udp", src: routerB4, dst: back4, sport: 42012, dport: 9200, dropNs: tp.router,
			hook: "output", chain: "output", family: "inet", verdict: "DROP", position: 1},
	}
}

// TestNftAttribution drops packets with a native ruleset that has no
// counters: each drop is named by replay, and never wrongly.
func TestNftAttribution(t *testing.T) {
	requireRoot(t)
	tp := newTopo(t)
	addNftRuleset(t, tp)
	keepRuleset(t, tp.router)
	a := testAnnotator(t)
	if err := a.Prime(inode(t, tp.router)); err != nil {
		t.Fatal(err)
	}
	oracle := nftRuleTexts(t, tp)
	for _, p := range nftProbes(tp) {
		p.send(t)
		ev := p.event(t)
		a.Annotate(ev)
		checkNft(t, p, ev.Netfilter, oracle)
	}
	t.Logf("stats: %+v", a.Stats())
	t.Run("without counter window", func(t *testing.T) { checkNftWithoutWindow(t, tp) })
}

// checkNftWithoutWindow replays the same drops with no counter window:
// conntrack's counts then cannot rule out "ct state invalid drop", so a
// drop by a later rule has both as candidates, and one by an earlier rule
// is still replayed.
func checkNftWithoutWindow(t *testing.T, tp *topo) {
	a := testAnnotator(t)
	for _, p := range nftProbes(tp) {
		ev := p.event(t)
		ev.Time = ev.Time.Add(-time.Hour)
		a.Annotate(ev)
		nf := ev.Netfilter
		afterCt := p.hook == "input" && !(p.chain == "input" && p.position == 1)
		switch {
		case nf == nil:
			t.Errorf("%s/%d: not attributed", p.proto, p.dport)
		case !afterCt && nf.Certainty != "replayed":
			t.Errorf("%s/%d: %+v, want replayed", p.proto, p.dport, nf)
		case afterCt && (nf.Certainty != "candidates" || len(nf.Candidates) != 2 ||
			nf.Candidates[0].Rule.Text != "ct state invalid drop" || nf.Candidates[1].Chain != p.chain ||
			nf.Candidates[1].Rule.Position != p.position):
			t.Errorf("%s/%d: %+v, want candidates ct state invalid and %s #%d", p.proto, p.dport, nf, p.chain, p.position)
		}
	}
}

// nftRuleTexts returns nft -a list ruleset's rules by chain, the oracle of
// rule text, with their handles.
func nftRuleTexts(t *testing.T, tp *topo) map[string][]string {
	out := map[string][]string{}
	chain := ""
	for _, line := range strings.Split(tp.in(t, tp.router, "nft", "-a", "list", "table", "inet", "fw"), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "chain "):
			chain = strings.Fields(line)[1]
		case strings.Contains(line, "# handle") && chain != "" && !strings.HasPrefix(line, "set ") && !strings.HasPrefix(line, "type "):
			out[chain] = append(out[chain], line)
		}
	}
	return out
}

func checkNft(t *testing.T, p probe, nf *eventNetfilter, oracle map[string][]string) {
	t.Helper()
	name := p.proto + " " + p.dst + " " + itoa(int(p.dport))
	if nf == nil {
		t.Errorf("%s: not attributed", name)
		return
	}
	if nf.Certainty != "replayed" && nf.Certainty != "counter" && nf.Certainty != "exact" {
		t.Errorf("%s: certainty %s, candidates %+v", name, nf.Certainty, nf.Candidates)
		return
	}
	if nf.Hook != p.hook || nf.Family != p.family || nf.Table != "fw" || nf.Chain != p.chain || nf.Verdict != p.verdict ||
		nf.RejectWith != p.rejectWith || nf.Policy != (p.position == 0) {
		t.Errorf("%s: got %+v, want hook %s chain %s %s %s policy %v", name, nf, p.hook, p.chain, p.verdict, p.rejectWith, p.position == 0)
	}
	if p.position == 0 {
		return
	}
	want := oracle[p.chain][p.position-1]
	if nf.Rule == nil || nf.Rule.Position != p.position || nf.Rule.Text+" # handle "+uitoa(nf.Rule.Handle) != want {
		t.Errorf("%s: rule %+v, want #%d %q", name, nf.Rule, p.position, want)
	}
}
