package explain

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestQdiscScenario: a tbf qdisc with a tiny limit, checked against
// tc -s qdisc.
func TestQdiscScenario(t *testing.T) {
	requireRoot(t)
	p := newPair(t, "10.231.6")
	sh(t, "tc", "-n", p.client, "qdisc", "add", "dev", p.clientIf, "root", "handle", "7:", "tbf", "rate", "1mbit", "burst", "1600", "limit", "3000")
	tr := startTracer(t, p.client)
	flood := func() {
		exec.Command("ip", "netns", "exec", p.client, "bash", "-c",
			fmt.Sprintf("for i in $(seq 200); do head -c 1000 /dev/zero > /dev/udp/%s/9020; done", p.serverIP)).Run()
	}
	ev := tr.await(t, 10*time.Second, flood, reasonAt("QDISC_DROP", ""))
	x := explain(t, ev)
	oracle := sh(t, "tc", "-n", p.client, "-s", "qdisc", "show", "dev", p.clientIf)
	// qdisc tbf 7: root refcnt 2 rate 1Mbit burst 1600b lat 16us ... limit 3000b? (tc prints lat, not limit)
	// Sent 12345 bytes 12 pkt (dropped 100, overlimits 10 requeues 0)
	got := values(x, "qdisc")
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
	if err := json.Unmarshal([]byte(sh(t, "tc", "-n", p.client, "-j", "qdisc", "show", "dev", p.clientIf)), &qs); err != nil || len(qs) != 1 {
		t.Fatalf("tc -j qdisc: %v %+v", err, qs)
	}
	o2 := qs[0].Options
	if limit := o2.Lat*o2.Rate/1e6 + o2.Burst; limit < 2999 || limit > 3001 {
		t.Errorf("tc's lat %vus at rate %v B/s and burst %v means limit %v, not the 3000b of the evidence", o2.Lat, o2.Rate, o2.Burst, limit)
	}
}

// TestFragTimeoutScenario: only the first fragment of a datagram reaches
// the server, whose reassembly times out; checked against sysctl.
func TestFragTimeoutScenario(t *testing.T) {
	requireRoot(t)
	p := newPair(t, "10.231.7")
	in(t, p.server, "sysctl", "-qw", "net.ipv4.ipfrag_time=1")
	// The server's ingress hook, before reassembly, drops every fragment
	// but the first. (Locally sent packets are fragmented after the
	// client's netfilter hooks, so the client cannot drop them.)
	in(t, p.server, "nft", "add", "table", "netdev", "t")
	in(t, p.server, "nft", "add", "chain", "netdev", "t", "c", "{ type filter hook ingress device "+p.serverIf+" priority 0; }")
	in(t, p.server, "nft", "add", "rule", "netdev", "t", "c", "ip", "frag-off", "&", "0x1fff", "!=", "0", "drop")
	tr := startTracer(t, p.server)
	ev := tr.await(t, 15*time.Second, ping(p.client, "-s", "3000", p.serverIP), reasonAt("FRAG_REASM_TIMEOUT", ""))
	x := explain(t, ev)
	for _, k := range []string{"net.ipv4.ipfrag_time", "net.ipv4.ipfrag_high_thresh", "net.ipv4.ipfrag_max_dist"} {
		if got, want := value(t, x, k), strings.TrimSpace(in(t, p.server, "sysctl", "-n", k)); got != want {
			t.Errorf("%s = %q, sysctl says %q", k, got, want)
		}
	}
	if value(t, x, "net.ipv4.ipfrag_time") != "1" {
		t.Errorf("ipfrag_time is not the namespace's own")
	}
}

// TestNeighScenario: an on-link address nobody answers ARP for, checked
// against ip neigh.
func TestNeighScenario(t *testing.T) {
	requireRoot(t)
	p := newPair(t, "10.231.8")
	const ghost = "10.231.8.77"
	tr := startTracer(t, p.client)
	ev := tr.await(t, 20*time.Second, ping(p.client, ghost), func(j jsonEvent) bool {
		return strings.HasPrefix(j.Reason, "NEIGH_") && j.Dst == ghost
	})
	x := explain(t, ev)
	if got, want := value(t, x, "next_hop"), ghost+" dev "+p.clientIf; got != want {
		t.Errorf("next_hop %q, want %q", got, want)
	}
	// ip neigh: "10.231.8.77 dev xc... FAILED" (INCOMPLETE while it still tries).
	oracle := strings.Fields(sh(t, "ip", "-n", p.client, "neigh", "show", ghost))
	if len(oracle) == 0 {
		t.Fatalf("ip neigh shows no entry for %s", ghost)
	}
	if got, want := value(t, x, "neigh_state"), oracle[len(oracle)-1]; got != want && !(got == "INCOMPLETE" && want == "FAILED") {
		t.Errorf("neigh_state %s, ip neigh says %s", got, want)
	}
	k := "net.ipv4.neigh." + p.clientIf + ".unres_qlen_bytes"
	if got, want := value(t, x, k), strings.TrimSpace(in(t, p.client, "sysctl", "-n", k)); got != want {
		t.Errorf("%s = %q, sysctl says %q", k, got, want)
	}
}

// TestNeighQueueFullScenario: a burst to an on-link address nobody
// answers, with a tiny queue for packets awaiting resolution; checked
// against sysctl and ip neigh.
func TestNeighQueueFullScenario(t *testing.T) {
	requireRoot(t)
	p := newPair(t, "10.231.13")
	const ghost = "10.231.13.77"
	k := "net.ipv4.neigh." + p.clientIf + ".unres_qlen_bytes"
	in(t, p.client, "sysctl", "-qw", k+"=2000")
	tr := startTracer(t, p.client)
	burst := func() {
		exec.Command("ip", "netns", "exec", p.client, "bash", "-c",
			fmt.Sprintf("for i in $(seq 20); do head -c 500 /dev/zero > /dev/udp/%s/9050; done", ghost)).Run()
	}
	ev := tr.await(t, 10*time.Second, burst, func(j jsonEvent) bool { return j.Reason == "NEIGH_QUEUEFULL" && j.Dst == ghost })
	x := explain(t, ev)
	if got := value(t, x, k); got != "2000" || got != strings.TrimSpace(in(t, p.client, "sysctl", "-n", k)) {
		t.Errorf("%s = %q, sysctl says otherwise or not 2000", k, got)
	}
	oracle := strings.Fields(sh(t, "ip", "-n", p.client, "neigh", "show", ghost))
	if len(oracle) == 0 {
		t.Fatalf("ip neigh shows no entry for %s", ghost)
	}
	if got, want := value(t, x, "neigh_state"), oracle[len(oracle)-1]; got != want && !(got == "INCOMPLETE" && want == "FAILED") {
		t.Errorf("neigh_state %s, ip neigh says %s", got, want)
	}
}
