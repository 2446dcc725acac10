package netfilter

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droptrace/droptrace/netfilter/nftest"
)

// TestLegacyAttribution: the router's rules loaded with iptables-legacy
// and ip6tables-legacy (x_tables, no nftables rule at all), each probe's
// drop attributed to its own rule or policy by counter, then by replay
// alone; the tables (iptables-legacy-save, counters aside) unchanged.
func TestLegacyAttribution(t *testing.T) {
	requireRoot(t)
	tp := nftest.NewTopo(t)
	nftest.AddLegacyRules(t, tp)
	nftest.KeepRuleset(t, tp.Router)
	a := testAnnotator(t)
	if err := a.Prime(nftest.Inode(t, tp.Router)); err != nil {
		t.Fatal(err)
	}
	probes := nftest.IptablesProbes(tp)
	oracle := nftest.NewLegacyOracle(t, tp, probes)
	for _, p := range probes {
		p.Send(t)
		ev := eventOf(t, p)
		a.Annotate(ev)
		nftest.Check(t, p, ev.Netfilter, oracle, "counter")
	}
	t.Logf("stats: %+v", a.Stats())
	replay := testAnnotator(t)
	for _, p := range probes {
		ev := eventOf(t, p)
		ev.Time = ev.Time.Add(-time.Hour)
		replay.Annotate(ev)
		nftest.Check(t, p, ev.Netfilter, oracle, "replayed")
	}
}

// TestLegacyIdentity: x_tables rules have no handle; a rule keeps its
// identity (the window's key) when rules are inserted before it and
// jump offsets move, and identical rules of a chain are told apart. The
// reader, opened before the namespace had any x_tables table (and not
// creating one), sees the tables made after.
func TestLegacyIdentity(t *testing.T) {
	requireRoot(t)
	ns := "nf-lg-" + randomHex(3)
	nftest.Sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	in := func(rule string) {
		nftest.Sh(t, "ip", append([]string{"netns", "exec", ns, "iptables-legacy"}, strings.Fields(rule)...)...)
	}
	rd, err := OpenReader("/run/netns/"+ns, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	keys := func() []ruleKey {
		rs, err := rd.Read()
		if err != nil {
			t.Fatal(err)
		}
		var ks []ruleKey
		for _, tb := range rs.Tables {
			if tb.Legacy && tb.Name == "filter" {
				for _, r := range tb.Chain("INPUT").Rules {
					ks = append(ks, keyOfRule(r))
				}
			}
		}
		return ks
	}
	if ks := keys(); len(ks) != 0 {
		t.Fatalf("legacy rules %v in a new namespace", ks)
	}
	if names := nftest.Sh(t, "ip", "netns", "exec", ns, "cat", "/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"); names != "" {
		t.Fatalf("reading created x_tables tables: %q", names)
	}
	in("-N SUB")
	in("-A INPUT -p tcp --dport 1 -j SUB")
	in("-A INPUT -p udp -j DROP")
	in("-A INPUT -p udp -j DROP")
	before := keys()
	in("-I INPUT 1 -p icmp -j ACCEPT")
	in("-I SUB 1 -j RETURN")
	after := keys()
	if len(before) != 3 || len(after) != 4 || !slices.Equal(before, after[1:]) || before[1] == before[2] {
		t.Errorf("keys before %v, after inserting a rule %v: want the same, and distinct", before, after)
	}
}

// TestLegacyBesideNft: a namespace with iptables-nft rules and one
// iptables-legacy rule, both on filter INPUT at the same priority: the
// counters of each tell which dropped, every probe to its own rule.
func TestLegacyBesideNft(t *testing.T) {
	requireRoot(t)
	tp := nftest.NewTopo(t)
	nftest.AddIptablesRules(t, tp)
	tp.In(t, tp.Router, "iptables-legacy", "-A", "INPUT", "-p", "udp", "--dport", "5454", "-j", "DROP")
	nftest.KeepRuleset(t, tp.Router)
	a := testAnnotator(t)
	if err := a.Prime(nftest.Inode(t, tp.Router)); err != nil {
		t.Fatal(err)
	}
	probes := nftest.IptablesProbes(tp)
	oracle := nftest.NewOracle(t, tp, probes)
	legacy := probes[2] // udp to the router: INPUT
	legacy.Sport, legacy.Dport, legacy.Position = 41500, 5454, 1
	legacyOracle := nftest.NewLegacyOracle(t, tp, []nftest.Probe{legacy})
	for _, p := range append(probes, legacy) {
		p.Send(t)
		ev := eventOf(t, p)
		a.Annotate(ev)
		o := oracle
		if p.Dport == 5454 {
			o = legacyOracle
		}
		nftest.Check(t, p, ev.Netfilter, o, "counter")
	}
	t.Logf("stats: %+v", a.Stats())
}
