package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

const (
	rejectPort = 7001 // TCP, REJECT --reject-with tcp-reset
	dropPort   = 7002 // UDP, DROP
	closedPort = 7003 // UDP, no rule, no listener: NO_SOCKET
)

// addRules installs the REJECT and DROP rules in the server namespace,
// with iptables and ip6tables alike.
func (tp *topology) addRules(t *testing.T) {
	t.Helper()
	for _, ipt := range []string{"iptables", "ip6tables"} {
		tp.in(t, tp.server, ipt, "-A", "INPUT", "-p", "tcp", "--dport", fmt.Sprint(rejectPort), "-j", "REJECT", "--reject-with", "tcp-reset")
		tp.in(t, tp.server, ipt, "-A", "INPUT", "-p", "udp", "--dport", fmt.Sprint(dropPort), "-j", "DROP")
	}
}

// flow is a tuple the tests expect (or forbid) in droptrace's output.
type flow struct {
	proto, src, dst string
	dport           uint16
}

func (f flow) String() string { return fmt.Sprintf("%s %s > %s:%d", f.proto, f.src, f.dst, f.dport) }

func flowOf(ev jsonEvent) flow {
	return flow{proto: ev.Proto, src: ev.Src, dst: ev.Dst, dport: ev.Dport}
}

// sendAll sends n packets of each kind, over IPv4 and IPv6, and returns
// once the server's kernel has dropped every one: by the rules' counters
// and the UDP NoPorts counters.
func (tp *topology) sendAll(t *testing.T, n int) {
	t.Helper()
	for _, dst := range []string{tp.serverIP4, tp.serverIP6} {
		tp.connectTCP(t, dst, rejectPort, n)
		tp.sendUDP(t, dst, dropPort, n)
		tp.sendUDP(t, dst, closedPort, n)
	}
	for _, ipt := range []string{"iptables", "ip6tables"} {
		tp.waitRule(t, ipt, uint64(n), "tcp", fmt.Sprintf("dpt:%d", rejectPort))
		tp.waitRule(t, ipt, uint64(n), "udp", fmt.Sprintf("dpt:%d", dropPort))
	}
	tp.waitNoPorts(t, false, uint64(n))
	tp.waitNoPorts(t, true, uint64(n))
}

func TestNetfilterDrops(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	pcap := t.TempDir() + "/drops.pcapng"
	tr := startTracer(t, "--output", "json", "--filter-netns", tp.server,
		"--filter-reason", "NETFILTER_DROP", "--output-pcap", pcap)
	const n = 3
	tp.sendAll(t, n)
	tr.waitLines(t, 4*n)
	tr.stop(t)

	evs := tr.events(t)
	want := map[flow]int{
		{"tcp", tp.clientIP4, tp.serverIP4, rejectPort}: n,
		{"udp", tp.clientIP4, tp.serverIP4, dropPort}:   n,
		{"tcp", tp.clientIP6, tp.serverIP6, rejectPort}: n,
		{"udp", tp.clientIP6, tp.serverIP6, dropPort}:   n,
	}
	got := map[flow]int{}
	netns := inode(t, tp.server)
	for _, ev := range evs {
		got[flowOf(ev)]++
		checkDropEvent(t, ev, netns, tp.serverIf)
	}
	for f, c := range want {
		if got[f] != c {
			t.Errorf("%v: reported %d times, want %d", f, got[f], c)
		}
	}
	if len(evs) != 4*n {
		t.Errorf("got %d events, want %d: %+v", len(evs), 4*n, evs)
	}
	checkPcap(t, pcap, evs)
}

func checkDropEvent(t *testing.T, ev jsonEvent, netns uint64, ifname string) {
	t.Helper()
	if ev.Kind != "drop" || ev.Reason != "NETFILTER_DROP" || ev.ReasonCode == 0 {
		t.Errorf("event %+v: want kind drop, reason NETFILTER_DROP with its code", ev)
	}
	if !strings.HasPrefix(ev.Location, "nft_do_chain+0x") {
		t.Errorf("location %q, want nft_do_chain+0x...", ev.Location)
	}
	if ev.Netns != netns || ev.Ifname != ifname || ev.Ifindex == 0 {
		t.Errorf("event in netns %d on %q (ifindex %d), want netns %d on %q", ev.Netns, ev.Ifname, ev.Ifindex, netns, ifname)
	}
	if ev.Sport == 0 || ev.Len == 0 || !strings.HasPrefix(ev.Skb, "0x") || ev.Time == "" {
		t.Errorf("event %+v: missing sport, len, skb or time", ev)
	}
}

// checkPcap reads the capture back with tcpdump and expects exactly the
// reported packets, in order, with their addresses and ports.
func checkPcap(t *testing.T, path string, evs []jsonEvent) {
	t.Helper()
	out, err := exec.Command("tcpdump", "-nn", "-r", path).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v\n%s", path, err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, " IP") {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(evs) {
		t.Fatalf("tcpdump shows %d packets, droptrace reported %d:\n%s", len(lines), len(evs), out)
	}
	for i, ev := range evs {
		src := fmt.Sprintf("%s.%d > %s.%d", ev.Src, ev.Sport, ev.Dst, ev.Dport)
		if !strings.Contains(lines[i], src) {
			t.Errorf("tcpdump packet %d: %q, want %q", i, lines[i], src)
		}
	}
}

func TestTupleFilters(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	tr := startTracer(t, "--output", "json", "--filter-dst-ip", tp.serverIP4,
		"--filter-port", fmt.Sprint(dropPort), "--filter-proto", "udp")
	const n = 4
	tp.sendAll(t, n)
	tr.waitLines(t, n)
	tr.stop(t)

	evs := tr.events(t)
	want := flow{"udp", tp.clientIP4, tp.serverIP4, dropPort}
	for _, ev := range evs {
		if flowOf(ev) != want {
			t.Errorf("reported %v, which the filters exclude", flowOf(ev))
		}
	}
	if len(evs) != n {
		t.Errorf("got %d events, want %d", len(evs), n)
	}
}

// TestNoSocket checks a drop outside netfilter: UDP to a closed port.
func TestNoSocket(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tr := startTracer(t, "--output", "json", "--filter-netns", tp.server, "--filter-port", fmt.Sprint(closedPort))
	const n = 2
	tp.sendUDP(t, tp.serverIP4, closedPort, n)
	tp.waitNoPorts(t, false, n)
	tr.waitLines(t, n)
	tr.stop(t)
	evs := tr.events(t)
	if len(evs) != n {
		t.Fatalf("got %d events, want %d: %+v", len(evs), n, evs)
	}
	for _, ev := range evs {
		if ev.Reason != "NO_SOCKET" || ev.Proto != "udp" || ev.Dport != closedPort {
			t.Errorf("event %+v: want a udp NO_SOCKET drop to port %d", ev, closedPort)
		}
	}
}
