package netfilter

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droptrace/droptrace/netfilter/nftest"
)

// textIptables are rule shapes iptables-nft stores as native expressions
// or xt matches and targets.
var textIptables = map[string][]string{
	"iptables": {
		"-N LOGDROP",
		"-A INPUT -p tcp --dport 8443 -j REJECT --reject-with tcp-reset",
		"-A INPUT -p tcp --dport 8080 -j REJECT",
		"-A INPUT -p udp --dport 53 -j DROP",
		"-A INPUT -s 10.0.0.0/24 -i lo -m comment --comment my-comment -j DROP",
		"-A INPUT -m comment --comment two\\ words -j ACCEPT",
		"-A INPUT -m conntrack --ctstate INVALID -j DROP",
		"-A INPUT -m state --state NEW,ESTABLISHED -j ACCEPT",
		"-A INPUT -p tcp -m multiport --dports 1,2 -j LOGDROP",
		"-A INPUT -p udp -m multiport ! --sports 5,7:9 -j ACCEPT",
		"-A INPUT -p tcp --dport 1000:2000 ! -s 1.2.3.4 -j ACCEPT",
		"-A INPUT -p udp --sport 5 --dport 7 -j DROP",
		"-A INPUT -d 10.1.0.0/255.255.0.255 ! -i veth+ -j RETURN",
		"-A INPUT -p icmp -j DROP",
		"-A INPUT -p tcp ! --dport 22 -g LOGDROP",
		"-A FORWARD -i veth0 -o eth0 -p tcp -j REJECT --reject-with icmp-host-prohibited",
		"-A LOGDROP -j DROP",
		"-A FORWARD -p udp --dport 4000 -j REJECT --reject-with icmp-admin-prohibited",
		"-A OUTPUT -d 192.168.0.0/16 -j REJECT --reject-with icmp-net-unreachable",
	},
	"ip6tables": {
		"-A INPUT -p tcp --dport 8443 -j REJECT --reject-with tcp-reset",
		"-A INPUT -p udp --dport 53 -j REJECT",
		"-A INPUT -s fd00::/64 -p udp -j REJECT --reject-with icmp6-adm-prohibited",
		"-A INPUT -d fd00::1 -p ipv6-icmp -j DROP",
		"-A FORWARD -p tcp --dport 22 -j REJECT --reject-with icmp6-addr-unreachable",
	},
}

// textNft are native rule shapes, in tables of each family.
const textNft = `table inet t {
	set blocked { type ipv4_addr; elements = { 10.9.9.9 } }
	set ports { type inet_service; flags interval; elements = { 100-200, 300 } }
	chain in {
		type filter hook input priority 0; policy accept;
		ip daddr @blocked drop
		ct state invalid drop
		ct state established,related accept
		ct state != established drop
		tcp dport 9000 reject with tcp reset
		udp dport 9001 reject
		tcp dport { 22, 80 } counter drop comment "hello"
		iifname "lo" ip saddr 1.2.3.0/24 tcp dport 100-200 drop
		reject with icmpx host-unreachable
		meta l4proto udp drop
		ip6 daddr fd00::1 counter accept
		oifname "eth*" tcp sport != 80 return
		ip protocol icmp drop
		tcp dport != { 1-10, 20 } jump in2
		ip saddr != @blocked goto in2
		udp dport @ports drop
		ip daddr & 255.255.0.255 == 10.1.0.0 drop
		meta nfproto ipv6 accept
	}
	chain in2 {
		meta mark 0x00000005 drop
		udp dport 1000-2000 continue
		ip saddr 10.0.0.0/8 ip daddr 10.1.2.3 log drop
		log prefix "dropped: " drop
	}
}
table ip t4 {
	chain c {
		reject with icmp host-unreachable
		reject with icmp admin-prohibited
		tcp dport 22 reject
		ip saddr 10.0.0.1 ip daddr != 10.0.0.2 udp sport 53 accept
	}
}
table ip6 t6 {
	chain c {
		reject with icmpv6 admin-prohibited
		ip6 saddr fd00::/64 udp dport 53 reject
		ip6 nexthdr tcp drop
	}
}
`

// TestRuleTextOracle prints every rule of a namespace and compares it
// with what iptables -S, ip6tables -S and nft -a list ruleset print.
func TestRuleTextOracle(t *testing.T) {
	requireRoot(t)
	ns := textNamespace(t)
	r, err := OpenReader("/run/netns/"+ns, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rs, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tb := range rs.Tables {
		for _, c := range tb.Chains {
			oracle := textOracle(t, ns, tb, c)
			if len(oracle) != len(c.Rules) {
				t.Fatalf("%s %s/%s: %d rules read, oracle has %d:\n%s", FamilyName(tb.Family), tb.Name, c.Name, len(c.Rules), len(oracle), strings.Join(oracle, "\n"))
			}
			for i, rule := range c.Rules {
				got, ok := textOf(rule)
				if !ok || got != oracle[i] {
					t.Errorf("%s %s/%s #%d:\n got %q (supported %v)\nwant %q", FamilyName(tb.Family), tb.Name, c.Name, i+1, got, ok, oracle[i])
				}
				n++
			}
		}
	}
	t.Logf("%d rules compared", n)
}

func textOf(r *Rule) (string, bool) {
	if r.Chain.Table.IsIptables() {
		return IptablesText(r)
	}
	s, ok := NftText(r)
	return s + " # handle " + uitoa(r.Handle), ok
}

func textNamespace(t *testing.T) string {
	b := make([]byte, 3)
	rand.Read(b)
	ns := "nf-t-" + hex.EncodeToString(b)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	nftest.Sh(t, "ip", "netns", "add", ns)
	for _, tool := range []string{"iptables", "ip6tables"} {
		for _, rule := range textIptables[tool] {
			args := []string{"netns", "exec", ns, tool}
			// "two\ words" is one argument, as a shell would pass it.
			for _, f := range strings.Fields(strings.ReplaceAll(rule, `\ `, "\x00")) {
				args = append(args, strings.ReplaceAll(f, "\x00", " "))
			}
			nftest.Sh(t, "ip", args...)
		}
	}
	f := filepath.Join(t.TempDir(), "t.nft")
	if err := os.WriteFile(f, []byte(textNft), 0o644); err != nil {
		t.Fatal(err)
	}
	nftest.Sh(t, "ip", "netns", "exec", ns, "nft", "-f", f)
	return ns
}

// textOracle lists a chain's rules as the real tools print them.
func textOracle(t *testing.T, ns string, tb *Table, c *Chain) []string {
	var lines []string
	if tb.IsIptables() {
		tool := map[string]string{"ip": "iptables", "ip6": "ip6tables"}[FamilyName(tb.Family)]
		for _, l := range strings.Split(nftest.Sh(t, "ip", "netns", "exec", ns, tool, "-t", tb.Name, "-S", c.Name), "\n") {
			if strings.HasPrefix(l, "-A ") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	out := nftest.Sh(t, "ip", "netns", "exec", ns, "nft", "-a", "list", "chain", FamilyName(tb.Family), tb.Name, c.Name)
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if strings.Contains(l, "# handle") && !strings.HasPrefix(l, "chain ") && !strings.HasPrefix(l, "type ") {
			lines = append(lines, l)
		}
	}
	return lines
}
