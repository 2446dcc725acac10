package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestExplainText: the text output explains a drop on a second, indented
// line: the cause, the evidence as key=value, the fix.
func TestExplainText(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tr := startTracer(t, "--explain", "--filter-netns", tp.server)
	first := regexp.MustCompile(fmt.Sprintf(`(?m)^\S+ +\S+ +%s +udp +%s:\d+ +> %s:9001 +\d+ - +NO_SOCKET +__udp4_lib_rcv\+0x[0-9a-f]+\n(.*)\n`,
		tp.serverIf, regexp.QuoteMeta(tp.clientIP4), regexp.QuoteMeta(tp.serverIP4)))
	udpSend(tp.client, tp.serverIP4, 9001)()
	tr.waitOutput(t, "a NO_SOCKET drop and its explanation", func(out []byte) error {
		if first.Match(out) {
			return nil
		}
		return fmt.Errorf("no explained NO_SOCKET drop to port 9001")
	})
	m := first.FindStringSubmatch(tr.stdout.String())
	if m == nil {
		t.Fatalf("no NO_SOCKET line followed by its explanation:\n%s", tr.stdout.String())
	}
	if ss := tp.in(t, tp.server, "ss", "-lnuH", "sport = :9001"); strings.TrimSpace(ss) != "" {
		t.Fatalf("ss shows a listener on 9001: %s", ss)
	}
	want := fmt.Sprintf("                cause: nothing listens on udp port 9001 in this namespace, on any address or family; dst=%s:9001/udp listeners=0; fix: start the service, ", tp.serverIP4)
	if !strings.HasPrefix(m[1], want) {
		t.Errorf("second line\n%q\nwant it to start\n%q", m[1], want)
	}
}

// explainedTotal is a summary_total line of --summary --explain -o json.
type explainedTotal struct {
	summaryTotal
	Explain *explanation `json:"explain"`
}

// TestExplainSummary: --summary --explain explains each row in words (no
// live evidence: a row is many drops).
func TestExplainSummary(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	tp.resolveARP(t)
	before := noPorts(t, tp.server, false)
	tr := startTracer(t, "--summary", "--explain", "-o", "json", "--interval", "300ms", "--filter-netns", tp.server)
	tp.sendUDP(t, tp.serverIP4, dropPort, 5)
	tp.sendUDP(t, tp.serverIP4, closedPort, 5)
	tp.waitRule(t, "iptables", 5, "udp", fmt.Sprintf("dpt:%d", dropPort))
	tp.waitNoPorts(t, false, before+5)
	tr.waitIntervals(t, 10)
	tr.stop(t)
	causes := map[string]string{
		"NETFILTER_DROP": "a netfilter rule (iptables or nftables) dropped the packet",
		"NO_SOCKET":      "nothing listens on the destination port in this network namespace",
	}
	found := map[string]uint64{}
	for _, row := range decodeLines[explainedTotal](t, tr.stdout.Bytes()) {
		want, ok := causes[row.Reason]
		if row.Kind != "summary_total" || !ok {
			continue
		}
		found[row.Reason] += row.Count
		if row.Explain == nil || row.Explain.Cause != want || row.Explain.Fix == "" || len(row.Explain.Evidence) != 0 {
			t.Errorf("%s row explained %+v, want cause %q, a fix and no evidence", row.Reason, row.Explain, want)
		}
	}
	if found["NETFILTER_DROP"] != 5 || found["NO_SOCKET"] != 5 {
		t.Errorf("totals %v, want 5 NETFILTER_DROP and 5 NO_SOCKET", found)
	}
}

// reported returns the drops droptrace reported and matched in the
// kernel, from its exit line.
func (tr *tracer) reported(t *testing.T) (reported, matched uint64) {
	t.Helper()
	reported, matched, _ = exitCounts(t, tr.stderr.String(), "drops")
	return reported, matched
}

// TestExcludeReasonInKernel: --exclude-reason leaves drops out in the
// kernel. The run makes NO_SOCKET and NETFILTER_DROP drops and excludes
// NO_SOCKET: in event mode no NO_SOCKET is written and the kernel matched
// only the drops written (an excluded drop cost no ring-buffer record);
// in summary mode no NO_SOCKET is counted.
func TestExcludeReasonInKernel(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	tp.resolveARP(t)
	const n = 20
	before := noPorts(t, tp.server, false)
	events := startTracer(t, "-o", "json", "--show-routine", "--exclude-reason", "NO_SOCKET", "--filter-netns", tp.server)
	summary := startTracer(t, "--summary", "-o", "json", "--interval", "300ms", "--exclude-reason", "no_socket", "--filter-netns", tp.server)
	tp.sendUDP(t, tp.serverIP4, dropPort, n)
	tp.sendUDP(t, tp.serverIP4, closedPort, n)
	tp.waitRule(t, "iptables", n, "udp", fmt.Sprintf("dpt:%d", dropPort))
	tp.waitNoPorts(t, false, before+n)
	events.waitEvents(t, "the NETFILTER_DROPs", n, func(ev jsonEvent) bool { return ev.Reason == "NETFILTER_DROP" })
	summary.waitIntervals(t, n)
	events.stop(t)
	summary.stop(t)

	byReason := map[string]int{}
	for _, ev := range events.events(t) {
		byReason[ev.Reason]++
	}
	if byReason["NO_SOCKET"] != 0 || byReason["NETFILTER_DROP"] != n {
		t.Errorf("events by reason %v, want %d NETFILTER_DROP and no NO_SOCKET", byReason, n)
	}
	if reported, matched := events.reported(t); matched != reported {
		t.Errorf("the kernel matched %d drops and droptrace reported %d: excluded drops reached user space", matched, reported)
	}
	for _, row := range summary.summaryTotals(t) {
		if row.Reason == "NO_SOCKET" {
			t.Errorf("summary counts excluded drops: %+v", row)
		}
	}
}

// TestRoutineHidden makes, on purpose, the routine frees an idle host sees
// all the time: IPv6 multicast to a group the host has not joined, and
// datagrams freed with the socket their application closed unread.
// Frees of a closed socket carry no device, so no namespace (netns 0):
// the runs filter on the test's port instead. By default they are left
// out and counted at exit; --show-routine shows them; an unfiltered run
// shows none of them either.
func TestRoutineHidden(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	port := 20000 + int(inode(t, tp.server)%20000)
	filter := []string{"-o", "json", "--filter-port", strconv.Itoa(port)}
	hidden := startTracer(t, filter...)
	shown := startTracer(t, append(filter, "--show-routine")...)
	unfiltered := startTracer(t, "-o", "json")

	// ff02::2 is all-routers: the server is no router, so it has not joined.
	mcast := udpSend(tp.client, "ff02::2%"+tp.clientIf, port)
	shown.awaitDrop(t, 10*time.Second, mcast, reasonAt("NOT_SPECIFIED", "ip6_mc_input"))
	pid := startPython(t, tp.server, fmt.Sprintf(`import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", %d))
print("ready", flush=True); time.sleep(600)`, port))
	tp.sendUDP(t, tp.serverIP4, port, 3)
	waitFor(t, "datagrams queued on the unread socket", settle, func() error {
		return atLeast(recvQ(t, tp.server, port), 1)
	})
	syscall.Kill(pid, syscall.SIGKILL) // closes the socket with its queue
	closed := shown.awaitDrop(t, 10*time.Second, nil, func(ev explainedEvent) bool {
		return ev.Dport == uint16(port) && ev.Reason != "NO_SOCKET" && symbol(ev.Location) != "ip6_mc_input"
	})
	routine := map[string]bool{"ip6_mc_input": true, symbol(closed.Location): true}
	for _, tr := range []*tracer{hidden, shown, unfiltered} {
		tr.stop(t)
	}

	skipped := routineSkipped(t, hidden)
	got, all := 0, 0
	for _, ev := range hidden.events(t) {
		got++
		if routine[symbol(ev.Location)] {
			t.Errorf("routine free reported by default: %+v", ev)
		}
	}
	for range shown.events(t) {
		all++
	}
	t.Logf("closed socket freed its queue as %s at %s; by default %d reported, %d left out; with --show-routine %d", closed.Reason, closed.Location, got, skipped, all)
	if skipped < 2 || uint64(got)+skipped != uint64(all) {
		t.Errorf("by default %d drops reported and %d routine frees left out, with --show-routine %d: want at least 2 left out, and the sum", got, skipped, all)
	}
	for _, ev := range unfiltered.events(t) {
		if ev.Kind == "drop" && (ev.Dport == uint16(port) && routine[symbol(ev.Location)] || routineFree(ev)) {
			t.Errorf("a run without filters reported a routine free: %+v", ev)
		}
	}
	if n := routineSkipped(t, unfiltered); n < skipped {
		t.Errorf("a run without filters left out %d routine frees, fewer than the %d of the test's port", n, skipped)
	}
}

// routineFree says whether ev is one of the routine frees the README
// documents as hidden by default.
func routineFree(ev jsonEvent) bool {
	switch ev.Reason {
	case "NOT_DROPPED_YET", "CONSUMED", "QUEUE_PURGE", "IPV6_NDISC_NS_OTHERHOST":
		return true
	case "NOT_SPECIFIED", "":
		switch symbol(ev.Location) {
		case "ip6_mc_input", "udp_destruct_common", "udp_destruct_sock", "inet_sock_destruct", "sk_stream_kill_queues", "skb_queue_purge_reason":
			return true
		}
	}
	return false
}

var routineRe = regexp.MustCompile(`droptrace: (\d+) routine frees not reported \(--show-routine shows them\)`)

// routineSkipped is the number of routine frees droptrace's exit line
// says it left out; 0 when it says none.
func routineSkipped(t *testing.T, tr *tracer) uint64 {
	t.Helper()
	m := routineRe.FindStringSubmatch(tr.stderr.String())
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

// recvQ is the Recv-Q of the UDP socket bound to port in ns, as ss shows it.
func recvQ(t *testing.T, ns string, port int) uint64 {
	t.Helper()
	f := strings.Fields(sh(t, "ip", "netns", "exec", ns, "ss", "-uanH", fmt.Sprintf("sport = :%d", port))) // UNCONN 2304 0 0.0.0.0:P 0.0.0.0:*
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseUint(f[1], 10, 64)
	return n
}
