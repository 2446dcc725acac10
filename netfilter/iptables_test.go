package netfilter

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// iptablesRules are the router's rules: every REJECT type, DROPs, a
// user-defined chain, a FORWARD policy of DROP, OUTPUT rules; the same
// for ip6tables.
var iptablesRules = map[string][]string{
	"iptables": {
		"-N CUSTOM",
		"-A INPUT -p tcp --dport 8443 -j REJECT --reject-with tcp-reset",
		"-A INPUT -p tcp --dport 8080 -j REJECT",
		"-A INPUT -p udp --dport 5353 -j DROP",
		"-A INPUT -p tcp --dport 9000 -j DROP",
		"-A INPUT -p udp --dport 6000 -m comment --comment block-6000 -j DROP",
		"-A INPUT -p tcp --dport 7000:7010 -j CUSTOM",
		"-A INPUT -p udp -m multiport --dports 6100,6200 -j DROP",
		"-A CUSTOM -s 10.77.1.1/32 -p tcp --dport 7005 -j REJECT --reject-with icmp-host-prohibited",
		"-A CUSTOM -j DROP",
		"-P FORWARD DROP",
		"-A FORWARD -p udp --dport 4000 -j REJECT --reject-with icmp-admin-prohibited",
		"-A FORWARD -p icmp -j ACCEPT",
		"-A FORWARD -o lo -p udp --dport 4001 -j REJECT",
		"-A FORWARD -o RBIF -p udp --dport 4001 -j DROP",
		"-A OUTPUT -p udp --dport 3000 -j DROP",
		"-A OUTPUT -d 10.77.2.2/32 -p tcp --dport 3001 -j REJECT --reject-with tcp-reset",
	},
	"ip6tables": {
		"-N CUSTOM6",
		"-A INPUT -p tcp --dport 8443 -j REJECT --reject-with tcp-reset",
		"-A INPUT -p udp --dport 5353 -j REJECT --reject-with icmp6-adm-prohibited",
		"-A INPUT -p tcp --dport 9000 -j DROP",
		"-A INPUT -p tcp --dport 7000:7010 -j CUSTOM6",
		"-A CUSTOM6 -j DROP",
		"-P FORWARD DROP",
		"-A FORWARD -p ipv6-icmp -j ACCEPT",
		"-A FORWARD -p udp --dport 4000 -j REJECT",
		"-A OUTPUT -p udp --dport 3000 -j DROP",
	},
}

func iptablesProbes(tp *topo) []probe {
	in := func(proto, dst string, sport, dport uint16, chain, verdict, with string, pos int) probe {
		src, fam := client4, "ip"
		if strings.Contains(dst, ":") {
			src, fam = client6, "ip6"
		}
		return probe{from: tp.client, proto: proto, src: src, dst: dst, sport: sport, dport: dport,
			dropNs: tp.router, dropIf: tp.rcIf, hook: "input", chain: chain, family: fam, verdict: verdict, rejectWith: with, position: pos}
	}
	fwd := func(p probe) probe {
		p.hook, p.dst = "forward", map[string]string{"ip": back4, "ip6": back6}[p.family]
		return p
	}
	out := func(p probe) probe {
		p.hook, p.from, p.dropIf = "output", tp.router, ""
		p.src, p.dst = map[string]string{"ip": routerB4, "ip6": routerB6}[p.family], map[string]string{"ip": back4, "ip6": back6}[p.family]
		return p
	}
	return []probe{
		in("tcp", router4, 41001, 8443, "INPUT", "REJECT", "tcp-reset", 1),
		in("tcp", router4, 41002, 8080, "INPUT", "REJECT", "icmp-port-unreachable", 2),
		in("udp", router4, 41003, 5353, "INPUT", "DROP", "", 3),
		in("tcp", router4, 41004, 9000, "INPUT", "DROP", "", 4),
		in("udp", router4, 41005, 6000, "INPUT", "DROP", "", 5),
		in("udp", router4, 41006, 6200, "INPUT", "DROP", "", 7),
		in("tcp", router4, 41007, 7005, "CUSTOM", "REJECT", "icmp-host-prohibited", 1),
		in("tcp", router4, 41008, 7001, "CUSTOM", "DROP", "", 2),
		fwd(in("udp", router4, 41009, 4000, "FORWARD", "REJECT", "icmp-admin-prohibited", 1)),
		fwd(in("tcp", router4, 41010, 5555, "FORWARD", "DROP", "", 0)),
		fwd(in("udp", router4, 41013, 4001, "FORWARD", "DROP", "", 4)),
		out(in("udp", router4, 41011, 3000, "OUTPUT", "DROP", "", 1)),
		out(in("tcp", router4, 41012, 3001, "OUTPUT", "REJECT", "tcp-reset", 2)),
		in("tcp", router6, 41101, 8443, "INPUT", "REJECT", "tcp-reset", 1),
		in("udp", router6, 41102, 5353, "INPUT", "REJECT", "icmp6-adm-prohibited", 2),
		in("tcp", router6, 41103, 9000, "INPUT", "DROP", "", 3),
		in("tcp", router6, 41104, 7002, "CUSTOM6", "DROP", "", 1),
		fwd(in("udp", router6, 41105, 4000, "FORWARD", "REJECT", "icmp6-port-unreachable", 2)),
		fwd(in("tcp", router6, 41106, 5555, "FORWARD", "DROP", "", 0)),
		out(in("udp", router6, 41107, 3000, "OUTPUT", "DROP", "", 1)),
	}
}

func addIptablesRules(t *testing.T, tp *topo) {
	t.Helper()
	for _, tool := range []string{"iptables", "ip6tables"} {
		for _, r := range iptablesRules[tool] {
			r = strings.ReplaceAll(r, "RBIF", tp.rbIf)
			tp.in(t, tp.router, append([]string{tool}, strings.Fields(r)...)...)
		}
	}
}

// iptablesS returns iptables -S's rules of a chain, the oracle of rule text.
func iptablesS(t *testing.T, tp *topo, family, chain string) []string {
	tool := map[string]string{"ip": "iptables", "ip6": "ip6tables"}[family]
	var rules []string
	for _, line := range strings.Split(tp.in(t, tp.router, tool, "-S", chain), "\n") {
		if strings.HasPrefix(line, "-A ") {
			rules = append(rules, line)
		}
	}
	return rules
}

// TestIptablesAttribution drops a packet with each rule and checks that
// each drop is attributed to its own rule, with hook, verdict and reject
// type, by counters.
func TestIptablesAttribution(t *testing.T) {
	requireRoot(t)
	tp := newTopo(t)
	addIptablesRules(t, tp)
	keepRuleset(t, tp.router)
	a := testAnnotator(t)
	if err := a.Prime(inode(t, tp.router)); err != nil {
		t.Fatal(err)
	}
	for _, p := range iptablesProbes(tp) {
		p.send(t)
		ev := p.event(t)
		a.Annotate(ev)
		checkAttribution(t, tp, p, ev.Netfilter, "counter")
	}
	t.Logf("stats: %+v", a.Stats())
	// Without counters, replaying the rules alone names the same ones: a
	// fresh annotator, and drops dated before its first read, so that no
	// two reads enclose them.
	replay := testAnnotator(t)
	for _, p := range iptablesProbes(tp) {
		ev := p.event(t)
		ev.Time = ev.Time.Add(-time.Hour)
		replay.Annotate(ev)
		checkAttribution(t, tp, p, ev.Netfilter, "replayed")
	}
}

func checkAttribution(t *testing.T, tp *topo, p probe, nf *eventNetfilter, certainty string) {
	t.Helper()
	name := p.family + " " + p.proto + "/" + itoa(int(p.dport)) + " " + p.hook
	if nf == nil {
		t.Errorf("%s: not attributed", name)
		return
	}
	want := eventNetfilter{Hook: p.hook, Family: p.family, Table: "filter", Chain: p.chain, Verdict: p.verdict,
		RejectWith: p.rejectWith, Policy: p.position == 0, Certainty: certainty}
	got := *nf
	got.Rule, got.Candidates = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %+v, want %+v (candidates %+v)", name, got, want, nf.Candidates)
	}
	if p.position == 0 {
		if nf.Rule != nil {
			t.Errorf("%s: policy drop with a rule: %+v", name, nf.Rule)
		}
		return
	}
	if nf.Rule == nil {
		t.Errorf("%s: no rule", name)
		return
	}
	oracle := iptablesS(t, tp, p.family, p.chain)
	if nf.Rule.Position != p.position || nf.Rule.Text != oracle[p.position-1] {
		t.Errorf("%s: rule #%d %q, want #%d %q", name, nf.Rule.Position, nf.Rule.Text, p.position, oracle[p.position-1])
	}
}
