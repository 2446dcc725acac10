package netfilter

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/nftables"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/netfilter/nftest"
)

var update = flag.Bool("update", false, "capture the x_tables fixtures in testdata/legacy from the running kernel (root)")

// legacyFixtureRules are loaded with iptables-legacy in a namespace of
// their own to capture the fixtures: every ipt_ip option, the matches
// and targets droptrace prints, goto, RETURN, a rule without target, and
// two it does not print (-f, LOG), which must say so.
var legacyFixtureRules = map[string][]string{
	"iptables-legacy": {
		"-N CUSTOM", "-N OTHER", "-P FORWARD DROP",
		"-A INPUT -i lo -p udp --dport 9999 -j DROP",
		"-A INPUT -s 10.1.0.0/16 ! -d 10.2.3.4 -i veth+ -p tcp --sport 1000:2000 --dport 80 -j REJECT --reject-with tcp-reset",
		"-A INPUT -p tcp -m multiport --dports 22,80:90 -m comment --comment two\x00words -j CUSTOM",
		"-A INPUT -m conntrack --ctstate INVALID -j DROP",
		"-A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT",
		"-A INPUT ! -p udp -g OTHER",
		"-A INPUT -s 10.9.0.0/255.255.0.255 -j ACCEPT",
		"-A INPUT -p icmp",
		"-A INPUT -p udp ! --sport 53 -j RETURN",
		"-A CUSTOM -p tcp --dport 22 -j REJECT --reject-with icmp-admin-prohibited",
		"-A CUSTOM -j RETURN",
		"-A OTHER ! -o eth0 -j REJECT",
		"-A OUTPUT -p udp --dport 3000 -j DROP",
		"-A OUTPUT -f -j DROP",
		"-A OUTPUT -j LOG --log-prefix x",
		"-t mangle -A PREROUTING -p udp --dport 7 -j DROP",
		"-t raw -A PREROUTING -p udp --dport 8 -j DROP",
	},
	"ip6tables-legacy": {
		"-N CUSTOM6", "-P INPUT DROP",
		"-A INPUT -p tcp --dport 8443 -j REJECT --reject-with tcp-reset",
		"-A INPUT -s fd00::/8 -p udp --dport 5353 -j REJECT --reject-with icmp6-adm-prohibited",
		"-A INPUT -p ipv6-icmp -j ACCEPT",
		"-A INPUT -i eth+ -j CUSTOM6",
		"-A INPUT -i lo -p udp --dport 9999 -j DROP",
		"-A CUSTOM6 ! -s ::1/128 -j DROP",
	},
}

// legacyFixtures are the tables captured: family, tool, table.
var legacyFixtures = []struct {
	fam         nftables.TableFamily
	tool, table string
}{
	{nftables.TableFamilyIPv4, "iptables-legacy", "filter"},
	{nftables.TableFamilyIPv4, "iptables-legacy", "mangle"},
	{nftables.TableFamilyIPv4, "iptables-legacy", "raw"},
	{nftables.TableFamilyIPv6, "ip6tables-legacy", "filter"},
}

func fixturePath(fam nftables.TableFamily, table, ext string) string {
	return filepath.Join("testdata", "legacy", FamilyName(fam)+"-"+table+ext)
}

// TestLegacyCapture writes the fixtures with -update: the kernel's
// GET_INFO and GET_ENTRIES answers (.bin) and iptables-legacy -S -v's
// text of the same table (.txt), the oracle.
func TestLegacyCapture(t *testing.T) {
	if !*update {
		t.Skip("fixtures are captured with -update only")
	}
	requireRoot(t)
	ns := "nf-lg-" + randomHex(3)
	nftest.Sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	nftest.Sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	for tool, rules := range legacyFixtureRules {
		for _, r := range rules {
			args := append([]string{"netns", "exec", ns, tool}, strings.Fields(r)...)
			for i := range args {
				args[i] = strings.ReplaceAll(args[i], "\x00", " ")
			}
			nftest.Sh(t, "ip", args...)
		}
	}
	nftest.RunInNetns(t, ns, func() error { return legacyTraffic() })
	var dumps []legacyDump
	nftest.RunInNetns(t, ns, func() error {
		h, err := openLegacy()
		if err != nil {
			return err
		}
		defer h.close()
		dumps, err = h.dump()
		return err
	})
	os.MkdirAll(filepath.Join("testdata", "legacy"), 0o755)
	for _, f := range legacyFixtures {
		d := findDump(t, dumps, f.fam, f.table)
		if err := os.WriteFile(fixturePath(f.fam, f.table, ".bin"), append(d.info, d.entries...), 0o644); err != nil {
			t.Fatal(err)
		}
		text := nftest.Sh(t, "ip", "netns", "exec", ns, f.tool, "-t", f.table, "-S", "-v")
		if err := os.WriteFile(fixturePath(f.fam, f.table, ".txt"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// legacyTraffic moves some counters: udp/9999 and tcp/22 on lo.
func legacyTraffic() error {
	for _, dst := range []string{"127.0.0.1:9999", "[::1]:9999", "127.0.0.1:3000"} {
		c, err := net.Dial("udp", dst)
		if err != nil {
			return err
		}
		c.Write([]byte("x"))
		c.Write([]byte("xy"))
		c.Close()
	}
	d := net.Dialer{Timeout: 200e6}
	if c, err := d.Dial("tcp", "127.0.0.1:22"); err == nil {
		c.Close()
	}
	return nil
}

func findDump(t *testing.T, dumps []legacyDump, fam nftables.TableFamily, table string) legacyDump {
	t.Helper()
	for _, d := range dumps {
		if d.family == fam && cString(d.info[:xtTableNameLen]) == table {
			return d
		}
	}
	t.Fatalf("no %s %s table dumped", FamilyName(fam), table)
	return legacyDump{}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// oracleCounts matches iptables -S -v's counters, " -c PACKETS BYTES".
var oracleCounts = regexp.MustCompile(` -c (\d+) (\d+)`)

// TestLegacyParse parses each captured table and prints it as
// iptables-legacy -S did: every chain, policy, rule text (but those it
// cannot print, which must say so), and counter.
func TestLegacyParse(t *testing.T) {
	for _, f := range legacyFixtures {
		t.Run(FamilyName(f.fam)+"-"+f.table, func(t *testing.T) {
			b, err := os.ReadFile(fixturePath(f.fam, f.table, ".bin"))
			if err != nil {
				t.Fatal(err)
			}
			tbl, err := parseLegacy(legacyDump{family: f.fam, info: b[:xtGetinfoSize], entries: b[xtGetinfoSize:]})
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(fixturePath(f.fam, f.table, ".txt"))
			if err != nil {
				t.Fatal(err)
			}
			got := printLegacy(tbl)
			wantLines := strings.Split(strings.TrimSpace(string(want)), "\n")
			if len(got) != len(wantLines) {
				t.Fatalf("%d lines, want %d:\n%s\nwant:\n%s", len(got), len(wantLines), strings.Join(got, "\n"), want)
			}
			for i, w := range wantLines {
				checkLegacyLine(t, got[i], w)
			}
		})
	}
}

// checkLegacyLine compares a printed line with iptables' (counters apart
// from the text); a rule iptables prints with options droptrace does not
// print must be marked unsupported instead.
func checkLegacyLine(t *testing.T, got, want string) {
	t.Helper()
	wantText := oracleCounts.ReplaceAllString(want, "")
	gotText := oracleCounts.ReplaceAllString(got, "")
	wc, gc := oracleCounts.FindString(want), oracleCounts.FindString(got)
	if strings.Contains(wantText, " -f ") || strings.Contains(wantText, "-j LOG") {
		if !strings.Contains(gotText, "[unsupported") {
			t.Errorf("got %q, want it marked unsupported (iptables: %q)", gotText, wantText)
		}
	} else if gotText != wantText {
		t.Errorf("got  %q\nwant %q", gotText, wantText)
	}
	if wc != gc {
		t.Errorf("%s: counters %q, want %q", wantText, gc, wc)
	}
}

// printLegacy prints a table as iptables -S -v does: policies, user
// chains, then each chain's rules with their counters.
func printLegacy(tbl *Table) []string {
	var out []string
	for _, c := range tbl.Chains {
		if c.Base {
			policy := map[bool]string{true: "DROP", false: "ACCEPT"}[c.PolicyDrop]
			out = append(out, "-P "+c.Name+" "+policy+counts(c.Packets, c.Bytes))
		}
	}
	for _, c := range tbl.Chains {
		if !c.Base {
			out = append(out, "-N "+c.Name)
		}
	}
	for _, c := range tbl.Chains {
		for i, r := range c.Rules {
			if r.Position != i+1 || r.Handle != uint64(i+1) {
				out = append(out, "position "+strconv.Itoa(r.Position))
			}
			text := RuleText(r)
			at := strings.Index(text, " -j ")
			if at < 0 {
				at = strings.Index(text, " -g ")
			}
			if at < 0 {
				at = len(text)
			}
			out = append(out, text[:at]+counts(r.Packets, r.Bytes)+text[at:])
		}
	}
	return out
}

func counts(p, b uint64) string {
	return " -c " + strconv.FormatUint(p, 10) + " " + strconv.FormatUint(b, 10)
}

// loadFixture parses a captured table.
func loadFixture(t *testing.T, fam nftables.TableFamily, table string) *Table {
	t.Helper()
	b, err := os.ReadFile(fixturePath(fam, table, ".bin"))
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := parseLegacy(legacyDump{family: fam, info: b[:xtGetinfoSize], entries: b[xtGetinfoSize:]})
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// TestLegacyCounterWindow: udp/9999 on lo, which INPUT #1 drops, passes
// OUTPUT's "-f -j DROP" first, which the event cannot decide (the
// fragment offset is not in it): replayed alone, both are candidates;
// between two reads where only INPUT #1's counter moved, it is named by
// counter; where nothing moved, nothing is named.
func TestLegacyCounterWindow(t *testing.T) {
	read := func(moved bool) *Ruleset {
		tbl := loadFixture(t, nftables.TableFamilyIPv4, "filter")
		if moved {
			tbl.Chain("INPUT").Rules[0].Packets++
		}
		return &Ruleset{Tables: []*Table{tbl}}
	}
	pkt := &Packet{Src: netip.MustParseAddr("127.0.0.1"), Dst: netip.MustParseAddr("127.0.0.1"), Proto: protoUDP, ProtoKnown: true,
		Sport: 40000, Dport: 9999}
	hooks := []uint32{HookOutput, HookPostrouting, HookPrerouting, HookInput}
	view := func(h uint32) *Packet { return hookView(pkt, "lo", "lo", true, h) }
	old, cur, still := read(false), read(true), read(false)

	outs, complete := replay(cur, nil, hooks, view)
	nf := annotation(outs, complete, nil, pkt)
	if nf == nil || nf.Certainty != event.CertaintyCandidates || len(nf.Candidates) != 2 {
		t.Fatalf("replayed alone: %+v, want 2 candidates", nf)
	}
	w := newWindow(old, cur)
	outs, complete = replay(cur, w, hooks, view)
	nf = annotation(outs, complete, w, pkt)
	if nf == nil || nf.Certainty != event.CertaintyCounter || nf.Chain != "INPUT" || nf.Rule == nil || nf.Rule.Position != 1 ||
		nf.Rule.Text != "-A INPUT -i lo -p udp -m udp --dport 9999 -j DROP" || nf.Hook != "input" || nf.Family != "ip" || nf.Table != "filter" {
		t.Errorf("counters moved: %+v rule %+v, want filter/INPUT #1 by counter", nf, nf.Rule)
	}
	w = newWindow(old, still)
	if outs, _ := replay(still, w, hooks, view); len(outs) != 0 {
		t.Errorf("no counter moved: outcomes %+v, want none", outs)
	}
}

// FuzzParseLegacy: whatever the kernel's answer, parsing it returns a
// table or an error, never a panic. Seeded with the fixtures, each also
// cut short at every entry boundary and in between.
func FuzzParseLegacy(f *testing.F) {
	for _, fx := range legacyFixtures {
		b, err := os.ReadFile(fixturePath(fx.fam, fx.table, ".bin"))
		if err != nil {
			f.Fatal(err)
		}
		for cut := xtGetinfoSize; cut <= len(b); cut += 37 {
			f.Add(fx.fam == nftables.TableFamilyIPv6, b[:cut])
		}
		f.Add(fx.fam == nftables.TableFamilyIPv6, b)
	}
	f.Fuzz(func(t *testing.T, v6 bool, b []byte) {
		fam := nftables.TableFamilyIPv4
		if v6 {
			fam = nftables.TableFamilyIPv6
		}
		if len(b) < xtGetinfoSize {
			return
		}
		tbl, err := parseLegacy(legacyDump{family: fam, info: b[:xtGetinfoSize], entries: b[xtGetinfoSize:]})
		if err == nil {
			for _, c := range tbl.Chains {
				for _, r := range c.Rules {
					RuleText(r)
				}
			}
		}
	})
}
