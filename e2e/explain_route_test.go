package e2e

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// addVeth adds a veth pair a, b inside ns (args set a's attributes) and
// brings both ends up: a second way out of the namespace.
func addVeth(t *testing.T, ns, a, b string, args ...string) {
	t.Helper()
	add := append(append([]string{"-n", ns, "link", "add", a}, args...), "type", "veth", "peer", "name", b)
	sh(t, "ip", add...)
	for _, dev := range []string{a, b} {
		sh(t, "ip", "-n", ns, "link", "set", dev, "up")
	}
}

// TestExplainRPFilter: strict rp_filter and a source whose route back
// leaves through another device, checked against sysctl and ip route get.
func TestExplainRPFilter(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	// The server routes 10.77.0.0/24 through a second device, rpa.
	addVeth(t, tp.server, "rpa", "rpb")
	sh(t, "ip", "-n", tp.server, "route", "add", "10.77.0.0/24", "dev", "rpa")
	tp.in(t, tp.server, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf."+tp.serverIf+".rp_filter=1")
	sh(t, "ip", "-n", tp.client, "addr", "add", "10.77.0.5/32", "dev", tp.clientIf)
	tr := startExplain(t, "--filter-netns", tp.server)

	x := tr.awaitExplained(t, 10*time.Second, ping(tp.client, "-I", "10.77.0.5", tp.serverIP4), reasonAt("IP_RPFILTER", "")).Explain
	for _, k := range []string{"net.ipv4.conf.all.rp_filter", "net.ipv4.conf." + tp.serverIf + ".rp_filter"} {
		if got, want := x.value(t, k), tp.sysctlIn(t, tp.server, k); got != want {
			t.Errorf("%s = %q, sysctl says %q", k, got, want)
		}
	}
	oracle := tp.in(t, tp.server, "ip", "route", "get", "10.77.0.5") // "10.77.0.5 dev rpa src ..."
	if !strings.Contains(oracle, "dev rpa") || !strings.Contains(x.value(t, "reverse_route"), "dev rpa") {
		t.Errorf("reverse_route %q, ip route get says %q", x.value(t, "reverse_route"), oracle)
	}
	x.wantCause(t, "leaves through rpa, not "+tp.serverIf)
}

// TestExplainRejectRoutes: forwarding into blackhole, unreachable and
// prohibit routes and into no route at all, which all read NOT_SPECIFIED
// ip_error, told apart and checked against ip route get.
func TestExplainRejectRoutes(t *testing.T) {
	requireRoot(t)
	tp := newRouter(t)
	sh(t, "ip", "-n", tp.server, "route", "add", "blackhole", "10.91.0.0/24")
	sh(t, "ip", "-n", tp.server, "route", "add", "unreachable", "10.92.0.0/24")
	sh(t, "ip", "-n", tp.server, "route", "add", "prohibit", "10.93.0.0/24")
	sh(t, "ip", "-n", tp.client, "route", "add", "10.80.0.0/12", "via", tp.serverIP4)
	tr := startExplain(t, "--filter-netns", tp.server)

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
			x := tr.awaitExplained(t, 10*time.Second, ping(tp.client, tt.dst), func(ev explainedEvent) bool {
				return ev.Dst == tt.dst && symbol(ev.Location) == "ip_error"
			}).Explain
			if tt.route != "" {
				if got := x.value(t, "route"); got != tt.route {
					t.Errorf("route %q, want %q", got, tt.route)
				}
			}
			x.wantCause(t, tt.cause)
			// ip route get fails with the same errno: "RTNETLINK answers: Invalid argument".
			out, err := exec.Command("ip", "-n", tp.server, "route", "get", tt.dst).CombinedOutput()
			m := regexp.MustCompile(`RTNETLINK answers: (.*)`).FindSubmatch(out)
			if err == nil || m == nil {
				t.Fatalf("ip route get %s: %v %s", tt.dst, err, out)
			}
			if got, want := x.value(t, "route_get"), "error: "+strings.ToLower(string(m[1])); got != want {
				t.Errorf("route_get %q, ip route get says %q", got, want)
			}
		})
	}
}

// mtuOf is a device's MTU as ip link shows it.
func mtuOf(t *testing.T, ns, dev string) string {
	t.Helper()
	return regexp.MustCompile(`mtu (\d+)`).FindStringSubmatch(sh(t, "ip", "-n", ns, "link", "show", dev))[1]
}

// TestExplainMTU: a DF packet bigger than the peer veth's MTU, dropped in
// the sender's namespace at __dev_forward_skb2, checked against ip link.
func TestExplainMTU(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	sh(t, "ip", "-n", tp.server, "link", "set", tp.serverIf, "mtu", "1000")
	tr := startExplain(t, "--filter-netns", tp.client)
	x := tr.awaitExplained(t, 10*time.Second, ping(tp.client, "-M", "do", "-s", "1400", tp.serverIP4), func(ev explainedEvent) bool {
		s := symbol(ev.Location)
		return s == "__dev_forward_skb2" || s == "__dev_forward_skb" || ev.Reason == "PKT_TOO_BIG"
	}).Explain
	for _, end := range []struct{ ns, dev string }{{tp.client, tp.clientIf}, {tp.server, tp.serverIf}} {
		if got, want := x.value(t, "mtu."+end.dev), mtuOf(t, end.ns, end.dev); got != want {
			t.Errorf("mtu.%s = %s, ip link says %s", end.dev, got, want)
		}
	}
	if got := x.value(t, "peer"); !strings.HasPrefix(got, tp.serverIf+" (netns ") {
		t.Errorf("peer %q, want %s", got, tp.serverIf)
	}
	x.wantCause(t, "does not fit the MTU 1000 of "+tp.serverIf)
}

// TestExplainPktTooBig: a router forwards a DF packet to a link with a
// smaller MTU; the drop (PKT_TOO_BIG where the packet came in) names the
// way out and its MTU, checked against ip route get and ip link.
func TestExplainPktTooBig(t *testing.T) {
	requireRoot(t)
	tp := newRouter(t)
	addVeth(t, tp.server, "tba", "tbb", "mtu", "1000")
	sh(t, "ip", "-n", tp.server, "route", "add", "10.95.0.0/24", "dev", "tba")
	sh(t, "ip", "-n", tp.client, "route", "add", "10.95.0.0/24", "via", tp.serverIP4)
	tr := startExplain(t, "--filter-netns", tp.server)
	x := tr.awaitExplained(t, 10*time.Second, ping(tp.client, "-M", "do", "-s", "1400", "10.95.0.1"), reasonAt("PKT_TOO_BIG", "")).Explain
	if oracle := sh(t, "ip", "-n", tp.server, "route", "get", "10.95.0.1"); !strings.Contains(oracle, "dev tba") || !strings.Contains(x.value(t, "route_get"), "dev tba") {
		t.Errorf("route_get %q, ip route get says %q", x.value(t, "route_get"), oracle)
	}
	if got, want := x.value(t, "mtu.tba"), mtuOf(t, tp.server, "tba"); got != want {
		t.Errorf("mtu.tba = %s, ip link says %s", got, want)
	}
	x.wantCause(t, "larger than the MTU 1000 of tba")
}
