package explain

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

func ping(ns string, args ...string) func() {
	return func() {
		exec.Command("ip", append([]string{"netns", "exec", ns, "ping", "-c", "1", "-W", "1"}, args...)...).Run()
	}
}

// TestRPFilterScenario: strict rp_filter and a source whose route back
// leaves through another device, checked against sysctl and ip route get.
func TestRPFilterScenario(t *testing.T) {
	requireRoot(t)
	p := newPair(t, "10.231.3")
	// The server routes 10.77.0.0/24 through a second device, rpa.
	sh(t, "ip", "-n", p.server, "link", "add", "rpa", "type", "veth", "peer", "name", "rpb")
	sh(t, "ip", "-n", p.server, "link", "set", "rpa", "up")
	sh(t, "ip", "-n", p.server, "link", "set", "rpb", "up")
	sh(t, "ip", "-n", p.server, "route", "add", "10.77.0.0/24", "dev", "rpa")
	in(t, p.server, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf."+p.serverIf+".rp_filter=1")
	sh(t, "ip", "-n", p.client, "addr", "add", "10.77.0.5/32", "dev", p.clientIf)
	tr := startTracer(t, p.server)

	ev := tr.await(t, 10*time.Second, ping(p.client, "-I", "10.77.0.5", p.serverIP), reasonAt("IP_RPFILTER", ""))
	x := explain(t, ev)
	for _, k := range []string{"net.ipv4.conf.all.rp_filter", "net.ipv4.conf." + p.serverIf + ".rp_filter"} {
		if got, want := value(t, x, k), strings.TrimSpace(in(t, p.server, "sysctl", "-n", k)); got != want {
			t.Errorf("%s = %q, sysctl says %q", k, got, want)
		}
	}
	oracle := in(t, p.server, "ip", "route", "get", "10.77.0.5") // "10.77.0.5 dev rpa src ..."
	if !strings.Contains(oracle, "dev rpa") || !strings.Contains(value(t, x, "reverse_route"), "dev rpa") {
		t.Errorf("reverse_route %q, ip route get says %q", value(t, x, "reverse_route"), oracle)
	}
	if !strings.Contains(x.Cause, "leaves through rpa, not "+p.serverIf) {
		t.Errorf("cause %q", x.Cause)
	}
}

// TestRejectRoutesScenario: forwarding into blackhole, unreachable and
// prohibit routes and into no route at all, which all read NOT_SPECIFIED
// ip_error, told apart and checked against ip route get.
func TestRejectRoutesScenario(t *testing.T) {
	requireRoot(t)
	p := newPair(t, "10.231.4")
	in(t, p.server, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	sh(t, "ip", "-n", p.server, "route", "add", "blackhole", "10.91.0.0/24")
	sh(t, "ip", "-n", p.server, "route", "add", "unreachable", "10.92.0.0/24")
	sh(t, "ip", "-n", p.server, "route", "add", "prohibit", "10.93.0.0/24")
	sh(t, "ip", "-n", p.client, "route", "add", "10.80.0.0/12", "via", p.serverIP)
	tr := startTracer(t, p.server)

	tests := []struct {
		dst, route, cause string
	}{
		{"10.91.0.1", "blackhole 10.91.0.0/24", "is a blackhole"},
		{"10.92.0.1", "unreachable 10.92.0.0/24", "is unreachable"},
		{"10.93.0.1", "prohibit 10.93.0.0/24", "is prohibit"},
		{"10.94.0.1", "", "there is no route to 10.94.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.dst, func(t *testing.T) {
			ev := tr.await(t, 10*time.Second, ping(p.client, tt.dst), func(j jsonEvent) bool {
				return j.Dst == tt.dst && Symbol(j.Location) == "ip_error"
			})
			x := explain(t, ev)
			if tt.route != "" {
				if got := value(t, x, "route"); got != tt.route {
					t.Errorf("route %q, want %q", got, tt.route)
				}
			}
			if !strings.Contains(x.Cause, tt.cause) {
				t.Errorf("cause %q, want it to say %q", x.Cause, tt.cause)
			}
			// ip route get fails with the same errno: "RTNETLINK answers: Invalid argument".
			out, err := exec.Command("ip", "-n", p.server, "route", "get", tt.dst).CombinedOutput()
			m := regexp.MustCompile(`RTNETLINK answers: (.*)`).FindSubmatch(out)
			if err == nil || m == nil {
				t.Fatalf("ip route get %s: %v %s", tt.dst, err, out)
			}
			if got, want := value(t, x, "route_get"), "error: "+strings.ToLower(string(m[1])); got != want {
				t.Errorf("route_get %q, ip route get says %q", got, want)
			}
		})
	}
}

// TestMTUScenario: a DF packet bigger than the peer veth's MTU, dropped in
// the sender's namespace at __dev_forward_skb2, checked against ip link.
func TestMTUScenario(t *testing.T) {
	requireRoot(t)
	p := newPair(t, "10.231.5")
	sh(t, "ip", "-n", p.server, "link", "set", p.serverIf, "mtu", "1000")
	tr := startTracer(t, p.client)
	ev := tr.await(t, 10*time.Second, ping(p.client, "-M", "do", "-s", "1400", p.serverIP), func(j jsonEvent) bool {
		return Symbol(j.Location) == "__dev_forward_skb2" || Symbol(j.Location) == "__dev_forward_skb" || j.Reason == "PKT_TOO_BIG"
	})
	x := explain(t, ev)
	for _, end := range []struct{ ns, dev string }{{p.client, p.clientIf}, {p.server, p.serverIf}} {
		link := sh(t, "ip", "-n", end.ns, "link", "show", end.dev)
		want := regexp.MustCompile(`mtu (\d+)`).FindStringSubmatch(link)[1]
		if got := value(t, x, "mtu."+end.dev); got != want {
			t.Errorf("mtu.%s = %s, ip link says %s", end.dev, got, want)
		}
	}
	if got := value(t, x, "peer"); !strings.HasPrefix(got, p.serverIf+" (netns ") {
		t.Errorf("peer %q, want %s", got, p.serverIf)
	}
	if !strings.Contains(x.Cause, "does not fit the MTU 1000 of "+p.serverIf) {
		t.Errorf("cause %q", x.Cause)
	}
}

// TestPktTooBigScenario: a router forwards a DF packet to a link with a
// smaller MTU; the drop (PKT_TOO_BIG where the packet came in) names the
// way out and its MTU, checked against ip route get and ip link.
func TestPktTooBigScenario(t *testing.T) {
	requireRoot(t)
	p := newPair(t, "10.231.12")
	in(t, p.server, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	sh(t, "ip", "-n", p.server, "link", "add", "tba", "mtu", "1000", "type", "veth", "peer", "name", "tbb")
	sh(t, "ip", "-n", p.server, "link", "set", "tba", "up")
	sh(t, "ip", "-n", p.server, "link", "set", "tbb", "up")
	sh(t, "ip", "-n", p.server, "route", "add", "10.95.0.0/24", "dev", "tba")
	sh(t, "ip", "-n", p.client, "route", "add", "10.95.0.0/24", "via", p.serverIP)
	tr := startTracer(t, p.server)
	ev := tr.await(t, 10*time.Second, ping(p.client, "-M", "do", "-s", "1400", "10.95.0.1"), reasonAt("PKT_TOO_BIG", ""))
	x := explain(t, ev)
	if oracle := sh(t, "ip", "-n", p.server, "route", "get", "10.95.0.1"); !strings.Contains(oracle, "dev tba") || !strings.Contains(value(t, x, "route_get"), "dev tba") {
		t.Errorf("route_get %q, ip route get says %q", value(t, x, "route_get"), oracle)
	}
	want := regexp.MustCompile(`mtu (\d+)`).FindStringSubmatch(sh(t, "ip", "-n", p.server, "link", "show", "tba"))[1]
	if got := value(t, x, "mtu.tba"); got != want {
		t.Errorf("mtu.tba = %s, ip link says %s", got, want)
	}
	if !strings.Contains(x.Cause, "larger than the MTU 1000 of tba") {
		t.Errorf("cause %q", x.Cause)
	}
}
