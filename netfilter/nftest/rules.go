package nftest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// IptablesRules are the router's rules: every REJECT type, DROPs, a
// user-defined chain, a FORWARD policy of DROP, OUTPUT rules; the same
// for ip6tables. RBIF is the router's device towards back.
var IptablesRules = map[string][]string{
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

// IptablesProbes are a packet for each of IptablesRules' drops.
func IptablesProbes(tp *Topo) []Probe {
	in := func(proto, dst string, sport, dport uint16, chain, verdict, with string, pos int) Probe {
		src, fam := Client4, "ip"
		if strings.Contains(dst, ":") {
			src, fam = Client6, "ip6"
		}
		return Probe{From: tp.Client, Proto: proto, Src: src, Dst: dst, Sport: sport, Dport: dport, DropNs: tp.Router,
			DropIf: tp.RcIf, Hook: "input", Chain: chain, Family: fam, Table: "filter", Verdict: verdict, RejectWith: with, Position: pos}
	}
	fwd := func(p Probe) Probe {
		p.Hook, p.Dst = "forward", map[string]string{"ip": Back4, "ip6": Back6}[p.Family]
		return p
	}
	out := func(p Probe) Probe {
		p.Hook, p.From, p.DropIf = "output", tp.Router, ""
		p.Src, p.Dst = map[string]string{"ip": RouterB4, "ip6": RouterB6}[p.Family], map[string]string{"ip": Back4, "ip6": Back6}[p.Family]
		return p
	}
	return []Probe{
		in("tcp", Router4, 41001, 8443, "INPUT", "REJECT", "tcp-reset", 1),
		in("tcp", Router4, 41002, 8080, "INPUT", "REJECT", "icmp-port-unreachable", 2),
		in("udp", Router4, 41003, 5353, "INPUT", "DROP", "", 3),
		in("tcp", Router4, 41004, 9000, "INPUT", "DROP", "", 4),
		in("udp", Router4, 41005, 6000, "INPUT", "DROP", "", 5),
		in("udp", Router4, 41006, 6200, "INPUT", "DROP", "", 7),
		in("tcp", Router4, 41007, 7005, "CUSTOM", "REJECT", "icmp-host-prohibited", 1),
		in("tcp", Router4, 41008, 7001, "CUSTOM", "DROP", "", 2),
		fwd(in("udp", Router4, 41009, 4000, "FORWARD", "REJECT", "icmp-admin-prohibited", 1)),
		fwd(in("tcp", Router4, 41010, 5555, "FORWARD", "DROP", "", 0)),
		fwd(in("udp", Router4, 41013, 4001, "FORWARD", "DROP", "", 4)),
		out(in("udp", Router4, 41011, 3000, "OUTPUT", "DROP", "", 1)),
		out(in("tcp", Router4, 41012, 3001, "OUTPUT", "REJECT", "tcp-reset", 2)),
		in("tcp", Router6, 41101, 8443, "INPUT", "REJECT", "tcp-reset", 1),
		in("udp", Router6, 41102, 5353, "INPUT", "REJECT", "icmp6-adm-prohibited", 2),
		in("tcp", Router6, 41103, 9000, "INPUT", "DROP", "", 3),
		in("tcp", Router6, 41104, 7002, "CUSTOM6", "DROP", "", 1),
		fwd(in("udp", Router6, 41105, 4000, "FORWARD", "REJECT", "icmp6-port-unreachable", 2)),
		fwd(in("tcp", Router6, 41106, 5555, "FORWARD", "DROP", "", 0)),
		out(in("udp", Router6, 41107, 3000, "OUTPUT", "DROP", "", 1)),
	}
}

// AddIptablesRules adds IptablesRules to the router with iptables-nft.
func AddIptablesRules(t testing.TB, tp *Topo) {
	t.Helper()
	for _, tool := range []string{"iptables", "ip6tables"} {
		for _, r := range IptablesRules[tool] {
			r = strings.ReplaceAll(r, "RBIF", tp.RbIf)
			tp.In(t, tp.Router, append([]string{tool}, strings.Fields(r)...)...)
		}
	}
}

// IptablesS returns iptables -S's rules of a chain, the oracle of rule text.
func IptablesS(t testing.TB, tp *Topo, family, chain string) []string {
	tool := map[string]string{"ip": "iptables", "ip6": "ip6tables"}[family]
	var rules []string
	for _, line := range strings.Split(tp.In(t, tp.Router, tool, "-S", chain), "\n") {
		if strings.HasPrefix(line, "-A ") {
			rules = append(rules, line)
		}
	}
	return rules
}

// NftRuleset is a native inet table without counters: a set lookup, a
// ct state rule, both reject kinds, an anonymous set, a jump, policies.
// IFACE is the router's device towards client.
const NftRuleset = `table inet fw {
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

// AddNftRuleset loads NftRuleset on the router.
func AddNftRuleset(t testing.TB, tp *Topo) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ruleset.nft")
	if err := os.WriteFile(f, []byte(strings.ReplaceAll(NftRuleset, "IFACE", tp.RcIf)), 0o644); err != nil {
		t.Fatal(err)
	}
	tp.In(t, tp.Router, "nft", "-f", f)
}

// NftProbes are a packet for each of NftRuleset's drops.
func NftProbes(tp *Topo) []Probe {
	in := func(proto, dst string, sport, dport uint16, chain, verdict, with string, pos int) Probe {
		src := Client4
		if strings.Contains(dst, ":") {
			src = Client6
		}
		return Probe{From: tp.Client, Proto: proto, Src: src, Dst: dst, Sport: sport, Dport: dport, DropNs: tp.Router,
			DropIf: tp.RcIf, Hook: "input", Chain: chain, Family: "inet", Table: "fw", Verdict: verdict, RejectWith: with, Position: pos}
	}
	return []Probe{
		in("tcp", Blocked4, 42001, 80, "input", "DROP", "", 1),
		in("tcp", Router4, 42002, 9100, "input", "REJECT", "tcp-reset", 3),
		in("udp", Router4, 42003, 9101, "input", "REJECT", "icmp-port-unreachable", 4),
		in("udp", Router6, 42004, 9101, "input", "REJECT", "icmp6-port-unreachable", 4),
		in("udp", Router4, 42005, 9103, "input", "DROP", "", 5),
		in("tcp", Router6, 42006, 9104, "input", "DROP", "", 6),
		in("tcp", Router4, 42007, 9106, "sub", "DROP", "", 1),
		in("tcp", Router4, 42008, 9107, "sub", "REJECT", "icmp-host-unreachable", 2),
		in("udp", Router4, 42009, 9120, "input", "REJECT", "icmp-admin-prohibited", 8),
		{From: tp.Client, Proto: "udp", Src: Client4, Dst: Back4, Sport: 42010, Dport: 4000, DropNs: tp.Router, DropIf: tp.RcIf,
			Hook: "forward", Chain: "forward", Family: "inet", Table: "fw", Verdict: "REJECT", RejectWith: "icmp-port-unreachable", Position: 2},
		{From: tp.Client, Proto: "tcp", Src: Client6, Dst: Back6, Sport: 42011, Dport: 22, DropNs: tp.Router, DropIf: tp.RcIf,
			Hook: "forward", Chain: "forward", Family: "inet", Table: "fw", Verdict: "DROP", Position: 0},
		{From: tp.Router, Proto: "udp", Src: RouterB4, Dst: Back4, Sport: 42012, Dport: 9200, DropNs: tp.Router,
			Hook: "output", Chain: "output", Family: "inet", Table: "fw", Verdict: "DROP", Position: 1},
	}
}

// NftRuleTexts returns nft -a list table inet fw's rules by chain, the
// oracle of rule text, each ending with its "# handle N".
func NftRuleTexts(t testing.TB, tp *Topo) map[string][]string {
	out := map[string][]string{}
	chain := ""
	for _, line := range strings.Split(tp.In(t, tp.Router, "nft", "-a", "list", "table", "inet", "fw"), "\n") {
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
