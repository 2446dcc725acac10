package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestExplainQdisc: a tbf qdisc with a tiny limit, checked against
// tc -s qdisc.
func TestExplainQdisc(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	sh(t, "tc", "-n", tp.client, "qdisc", "add", "dev", tp.clientIf, "root", "handle", "7:", "tbf", "rate", "1mbit", "burst", "1600", "limit", "3000")
	tr := startExplain(t, "--filter-netns", tp.client)
	flood := func() {
		exec.Command("ip", "netns", "exec", tp.client, "bash", "-c",
			fmt.Sprintf("for i in $(seq 200); do head -c 1000 /dev/zero > /dev/udp/%s/9020; done", tp.serverIP4)).Run()
	}
	x := tr.awaitExplained(t, 10*time.Second, flood, reasonAt("QDISC_DROP", "")).Explain
	// qdisc tbf 7: root refcnt 2 rate 1Mbit burst 1600b lat ...
	//  Sent 12345 bytes 12 pkt (dropped 100, overlimits 10 requeues 0)
	oracle := sh(t, "tc", "-n", tp.client, "-s", "qdisc", "show", "dev", tp.clientIf)
	got := x.values("qdisc")
	if len(got) != 1 || !strings.HasPrefix(got[0], "tbf 7: root limit 3000b ") {
		t.Fatalf("qdisc evidence %q, want the tbf 7: root with limit 3000b; tc -s qdisc:\n%s", got, oracle)
	}
	if !strings.Contains(oracle, "qdisc tbf 7: root") {
		t.Errorf("tc -s qdisc does not show tbf 7: root:\n%s", oracle)
	}
	m := regexp.MustCompile(`dropped (\d+)`).FindStringSubmatch(got[0])
	o := regexp.MustCompile(`\(dropped (\d+),`).FindStringSubmatch(oracle)
	if m == nil || o == nil {
		t.Fatalf("no drop counts: %q\n%s", got[0], oracle)
	}
	ours, _ := strconv.Atoi(m[1])
	theirs, _ := strconv.Atoi(o[1])
	if ours < 1 || ours > theirs {
		t.Errorf("dropped %d, want 1..%d (tc -s qdisc, read later)", ours, theirs)
	}
	// tc shows a tbf's limit as the latency it allows: lat = (limit - burst) / rate.
	var qs []struct {
		Options struct{ Rate, Burst, Lat float64 } `json:"options"`
	}
	if err := json.Unmarshal([]byte(sh(t, "tc", "-n", tp.client, "-j", "qdisc", "show", "dev", tp.clientIf)), &qs); err != nil || len(qs) != 1 {
		t.Fatalf("tc -j qdisc: %v %+v", err, qs)
	}
	o2 := qs[0].Options
	if limit := o2.Lat*o2.Rate/1e6 + o2.Burst; limit < 2999 || limit > 3001 {
		t.Errorf("tc's lat %vus at rate %v B/s and burst %v means limit %v, not the 3000b of the evidence", o2.Lat, o2.Rate, o2.Burst, limit)
	}
}

// shotProg is a tc program that drops every packet (TC_ACT_SHOT).
const shotProg = `__attribute__((section("tc"), used)) int shot(void *skb) { return 2; }
char _license[] __attribute__((section("license"), used)) = "GPL";
`

// TestExplainTCIngress: a tc BPF filter that drops everything on the
// server's ingress; the evidence names the clsact qdisc and the filter,
// checked against tc filter show.
func TestExplainTCIngress(t *testing.T) {
	requireRoot(t)
	clang, err := exec.LookPath("clang-14")
	if err != nil {
		t.Fatalf("clang-14 builds the tc program (make deps-gen installs it): %v", err)
	}
	dir := t.TempDir()
	src, obj := filepath.Join(dir, "shot.c"), filepath.Join(dir, "shot.o")
	if err := os.WriteFile(src, []byte(shotProg), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, clang, "-O2", "-target", "bpf", "-c", src, "-o", obj)
	tp := newTopology(t)
	sh(t, "tc", "-n", tp.server, "qdisc", "add", "dev", tp.serverIf, "clsact")
	sh(t, "tc", "-n", tp.server, "filter", "add", "dev", tp.serverIf, "ingress", "bpf", "da", "obj", obj, "sec", "tc")
	tr := startExplain(t, "--filter-netns", tp.server)
	x := tr.awaitExplained(t, 10*time.Second, ping(tp.client, tp.serverIP4), reasonAt("TC_INGRESS", "")).Explain

	// filter protocol all pref 49152 bpf chain 0 handle 0x1 shot.o:[tc] direct-action not_in_hw id 9223 name shot ...
	oracle := sh(t, "tc", "-n", tp.server, "filter", "show", "dev", tp.serverIf, "ingress")
	m := regexp.MustCompile(`pref (\d+) bpf .* (shot\.o:\[tc\]) .* id (\d+)`).FindStringSubmatch(oracle)
	if m == nil {
		t.Fatalf("tc filter show:\n%s", oracle)
	}
	want := "ingress bpf pref " + m[1] + " " + m[2] + " id " + m[3]
	if got := x.values("filter"); len(got) != 1 || got[0] != want {
		t.Errorf("filter evidence %q, want %q (tc filter show)", got, want)
	}
	if got := x.value(t, "filters"); got != "ingress 1" {
		t.Errorf("filters %q, want ingress 1", got)
	}
	qd := sh(t, "tc", "-n", tp.server, "qdisc", "show", "dev", tp.serverIf) // qdisc clsact ffff: parent ffff:fff1
	found := false
	for _, q := range x.values("qdisc") {
		found = found || regexp.MustCompile(`^clsact ffff: parent ffff:fff1`).MatchString(q)
	}
	if !found || !regexp.MustCompile(`qdisc clsact ffff: parent ffff:fff1`).MatchString(qd) {
		t.Errorf("qdisc evidence %q, tc qdisc show:\n%s", x.values("qdisc"), qd)
	}
}

// TestExplainFragTimeout: only the first fragment of a datagram reaches
// the server, whose reassembly times out; checked against sysctl.
func TestExplainFragTimeout(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.in(t, tp.server, "sysctl", "-qw", "net.ipv4.ipfrag_time=1")
	// The server's ingress hook, before reassembly, drops every fragment
	// but the first. (Locally sent packets are fragmented after the
	// client's netfilter hooks, so the client cannot drop them.)
	tp.in(t, tp.server, "nft", "add", "table", "netdev", "t")
	tp.in(t, tp.server, "nft", "add", "chain", "netdev", "t", "c", "{ type filter hook ingress device "+tp.serverIf+" priority 0; }")
	tp.in(t, tp.server, "nft", "add", "rule", "netdev", "t", "c", "ip", "frag-off", "&", "0x1fff", "!=", "0", "drop")
	tr := startExplain(t, "--filter-netns", tp.server)
	x := tr.awaitExplained(t, 15*time.Second, ping(tp.client, "-s", "3000", tp.serverIP4), reasonAt("FRAG_REASM_TIMEOUT", "")).Explain
	for _, k := range []string{"net.ipv4.ipfrag_time", "net.ipv4.ipfrag_high_thresh", "net.ipv4.ipfrag_max_dist"} {
		if got, want := x.value(t, k), tp.sysctlIn(t, tp.server, k); got != want {
			t.Errorf("%s = %q, sysctl says %q", k, got, want)
		}
	}
	if x.value(t, "net.ipv4.ipfrag_time") != "1" {
		t.Errorf("ipfrag_time is not the namespace's own")
	}
}

// ghost is an address on the topology's link that nobody answers ARP for.
const ghost = "10.199.1.77"

// neighState is the state ip neigh shows for ghost in ns.
func neighState(t *testing.T, ns string) string {
	t.Helper()
	f := strings.Fields(sh(t, "ip", "-n", ns, "neigh", "show", ghost)) // 10.199.1.77 dev dt...c FAILED
	if len(f) == 0 {
		t.Fatalf("ip neigh shows no entry for %s", ghost)
	}
	return f[len(f)-1]
}

// checkNeighState compares the evidence's state with ip neigh's, read
// later: an entry still being resolved (INCOMPLETE) may have failed since,
// and a FAILED one is resolved again (INCOMPLETE) by the next ping.
func checkNeighState(t *testing.T, x *explanation, ns string) {
	t.Helper()
	unresolved := map[string]bool{"INCOMPLETE": true, "FAILED": true}
	if got, want := x.value(t, "neigh_state"), neighState(t, ns); got != want && !(unresolved[got] && unresolved[want]) {
		t.Errorf("neigh_state %s, ip neigh says %s", got, want)
	}
}

// TestExplainNeighFailed: an on-link address nobody answers ARP for,
// checked against ip neigh and sysctl.
func TestExplainNeighFailed(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tr := startExplain(t, "--filter-netns", tp.client)
	x := tr.awaitExplained(t, 20*time.Second, ping(tp.client, ghost), func(ev explainedEvent) bool {
		return strings.HasPrefix(ev.Reason, "NEIGH_") && ev.Dst == ghost
	}).Explain
	if got, want := x.value(t, "next_hop"), ghost+" dev "+tp.clientIf; got != want {
		t.Errorf("next_hop %q, want %q", got, want)
	}
	checkNeighState(t, x, tp.client)
	k := "net.ipv4.neigh." + tp.clientIf + ".unres_qlen_bytes"
	if got, want := x.value(t, k), tp.sysctlIn(t, tp.client, k); got != want {
		t.Errorf("%s = %q, sysctl says %q", k, got, want)
	}
}

// TestExplainNeighQueueFull: a burst to an on-link address nobody
// answers, with a tiny queue for packets awaiting resolution; checked
// against sysctl and ip neigh.
func TestExplainNeighQueueFull(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	k := "net.ipv4.neigh." + tp.clientIf + ".unres_qlen_bytes"
	tp.in(t, tp.client, "sysctl", "-qw", k+"=2000")
	tr := startExplain(t, "--filter-netns", tp.client)
	burst := func() {
		exec.Command("ip", "netns", "exec", tp.client, "bash", "-c",
			fmt.Sprintf("for i in $(seq 20); do head -c 500 /dev/zero > /dev/udp/%s/9050; done", ghost)).Run()
	}
	x := tr.awaitExplained(t, 10*time.Second, burst, func(ev explainedEvent) bool { return ev.Reason == "NEIGH_QUEUEFULL" && ev.Dst == ghost }).Explain
	if got := x.value(t, k); got != "2000" || got != tp.sysctlIn(t, tp.client, k) {
		t.Errorf("%s = %q, sysctl says otherwise or not 2000", k, got)
	}
	checkNeighState(t, x, tp.client)
}
