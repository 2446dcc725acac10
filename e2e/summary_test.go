package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// summaryTotal is one "summary_total" line of --summary --output json.
type summaryTotal struct {
	Kind       string `json:"kind"`
	Count      uint64 `json:"count"`
	Total      uint64 `json:"total"`
	Reason     string `json:"reason"`
	ReasonCode uint32 `json:"reason_code"`
	Location   string `json:"location"`
	Netns      uint64 `json:"netns"`
	Ifname     string `json:"ifname"`
	Proto      string `json:"proto"`
}

func (tr *tracer) summaryTotals(t *testing.T) []summaryTotal {
	t.Helper()
	var out []summaryTotal
	for _, s := range decodeLines[summaryTotal](t, tr.stdout.Bytes()) {
		if s.Kind == "summary_total" {
			out = append(out, s)
		}
	}
	return out
}

// startDropCounter counts with bpftrace, by reason code, the drops whose
// device is in the namespace of inode ino.
func startDropCounter(t *testing.T, ino uint64) *bpftrace {
	t.Helper()
	return startBpftrace(t, fmt.Sprintf(`tracepoint:skb:kfree_skb /((struct sk_buff *)args->skbaddr)->dev->nd_net.net->ns.inum == %d/ { @drops[args->reason] = count(); }`, ino))
}

var bpftraceMapRe = regexp.MustCompile(`(?m)^@drops\[(\d+)\]: (\d+)$`)

// dropCounts parses the counts by reason code that startDropCounter's
// program prints at exit.
func dropCounts(out string) map[uint32]uint64 {
	got := map[uint32]uint64{}
	for _, m := range bpftraceMapRe.FindAllStringSubmatch(out, -1) {
		code, _ := strconv.ParseUint(m[1], 10, 32)
		n, _ := strconv.ParseUint(m[2], 10, 64)
		got[uint32(code)] = n
	}
	return got
}

// TestSummaryMatchesBpftrace drops a known number of datagrams while
// droptrace --summary and bpftrace both count drops in the namespace:
// both must count exactly that many NETFILTER_DROPs.
func TestSummaryMatchesBpftrace(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("bpftrace"); err != nil {
		t.Fatal("bpftrace is missing: `make deps-test` installs it")
	}
	tp := newTopology(t)
	tp.addRules(t)
	tp.resolveARP(t)
	ino := inode(t, tp.server)
	bt := startDropCounter(t, ino)
	tr := startTracer(t, "--summary", "--output", "json", "--interval", "200ms", "--filter-netns", tp.server)
	const n = 500
	floodUDP(t, tp.client, tp.serverIP4, dropPort, n)
	tp.waitRule(t, "iptables", n, "udp", fmt.Sprintf("dpt:%d", dropPort))
	tr.stop(t)
	byBpftrace := dropCounts(bt.stop(t))

	var nf []summaryTotal
	for _, s := range tr.summaryTotals(t) {
		if s.Netns != ino {
			t.Errorf("summary key in netns %d, want only %d: %+v", s.Netns, ino, s)
		}
		if s.Reason == "NETFILTER_DROP" {
			nf = append(nf, s)
		}
	}
	if len(nf) != 1 {
		t.Fatalf("want one NETFILTER_DROP key, got %+v\nstdout:\n%s", nf, tr.stdout.String())
	}
	got := nf[0]
	if got.Total != n || got.Count != n || got.Proto != "udp" || got.Ifname != tp.serverIf || !strings.HasPrefix(got.Location, "nft_do_chain+") {
		t.Errorf("droptrace: %+v; want %d udp drops on %s at nft_do_chain", got, n, tp.serverIf)
	}
	t.Logf("sent %d; droptrace --summary counted %d, bpftrace %d (reason %d)", n, got.Total, byBpftrace[got.ReasonCode], got.ReasonCode)
	if bpf := byBpftrace[got.ReasonCode]; bpf != got.Total {
		t.Errorf("reason %d: bpftrace counted %d, droptrace %d (sent %d)\nbpftrace:\n%s", got.ReasonCode, bpf, got.Total, n, bt.out.String())
	}
	if !strings.Contains(tr.stderr.String(), "summary map overflow: 0 drops") {
		t.Errorf("stderr does not report the summary map's overflow:\n%s", tr.stderr.String())
	}
}

// TestSummaryOverflow bounds the summary map to two keys and drops
// packets of three: UDP over IPv4 and over IPv6 to a closed port, then
// UDP dropped by iptables. The first two keys are counted exactly; the
// third's drops are overflow, reported on exit, and never a key.
func TestSummaryOverflow(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	tr := startTracer(t, "--summary", "--output", "json", "--summary-keys", "2", "--interval", "200ms",
		"--filter-netns", tp.server, "--filter-proto", "udp")
	const n4, n6, nDrop = 5, 4, 3
	tp.sendUDP(t, tp.serverIP4, closedPort, n4)
	tp.sendUDP(t, tp.serverIP6, closedPort, n6)
	// The first two keys are in the map, and droptrace has read them at
	// an interval, before the third key's drops.
	tr.waitIntervals(t, n4+n6)
	tp.sendUDP(t, tp.serverIP4, dropPort, nDrop)
	tp.waitRule(t, "iptables", nDrop, "udp", fmt.Sprintf("dpt:%d", dropPort))
	tr.stop(t)
	totals := tr.summaryTotals(t)
	byLoc := map[string]uint64{}
	for _, s := range totals {
		loc, _, _ := strings.Cut(s.Location, "+")
		byLoc[s.Reason+" "+loc] += s.Total
	}
	want := map[string]uint64{"NO_SOCKET __udp4_lib_rcv": n4, "NO_SOCKET __udp6_lib_rcv": n6}
	if len(totals) != 2 || byLoc["NO_SOCKET __udp4_lib_rcv"] != n4 || byLoc["NO_SOCKET __udp6_lib_rcv"] != n6 {
		t.Fatalf("totals by reason and location: %v; want %v\nstdout:\n%s", byLoc, want, tr.stdout.String())
	}
	wantErr := fmt.Sprintf("%d drops were not counted: the summary map was full (2 keys", nDrop)
	if !strings.Contains(tr.stderr.String(), wantErr) {
		t.Fatalf("stderr does not say %q:\n%s", wantErr, tr.stderr.String())
	}
}

// TestSummaryText checks the text tables: a title per interval, the
// column header, the rows of the dropped datagrams in the intervals they
// fell in, and the totals.
func TestSummaryText(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	tr := startTracer(t, "--summary", "--interval", "300ms", "--filter-netns", tp.server, "--filter-proto", "udp", "--filter-port", fmt.Sprint(dropPort))
	tp.sendUDP(t, tp.serverIP4, dropPort, 7)
	row := regexp.MustCompile(fmt.Sprintf(`(?m)^ +(\d+) +[0-9.]+ NETFILTER_DROP +nft_do_chain\+0x[0-9a-f]+.* +%s +%s +udp$`, regexp.QuoteMeta(tp.server), tp.serverIf))
	// The rows of the intervals, all there is before the totals.
	tr.waitOutput(t, "7 drops in the intervals' rows", func(out []byte) error {
		return atLeast(sumRows(row, string(out)), 7)
	})
	tr.stop(t)
	out := tr.stdout.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d  \d+ new drops$`),
		regexp.MustCompile(`(?m)^ +COUNT +RATE/s REASON +LOCATION +NETNS +IFACE +PROTO$`),
		regexp.MustCompile(`(?m)^TOTAL  7 drops in `),
	} {
		if !want.MatchString(out) {
			t.Errorf("stdout does not match %v:\n%s", want, out)
		}
	}
	rows := row.FindAllStringSubmatch(out, -1)
	if len(rows) < 2 {
		t.Fatalf("want rows for the drops in intervals and in the totals:\n%s", out)
	}
	var inIntervals int
	for _, r := range rows[:len(rows)-1] {
		n, _ := strconv.Atoi(r[1])
		inIntervals += n
	}
	if total := rows[len(rows)-1][1]; inIntervals != 7 || total != "7" {
		t.Errorf("intervals show %d drops and the totals %s, want 7 and 7:\n%s", inIntervals, total, out)
	}
}

// sumRows adds the counts, the first group of row, of every row in out.
func sumRows(row *regexp.Regexp, out string) uint64 {
	var sum uint64
	for _, r := range row.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.ParseUint(r[1], 10, 64)
		sum += n
	}
	return sum
}

// waitIntervals waits until the "summary" lines droptrace has written
// (--summary --output json) count n drops: it has read the map since
// they were made.
func (tr *tracer) waitIntervals(t *testing.T, n uint64) {
	t.Helper()
	tr.waitOutput(t, fmt.Sprintf("%d drops in the intervals", n), func(out []byte) error {
		var sum uint64
		for _, s := range decodeLines[summaryTotal](t, out) {
			if s.Kind == "summary" {
				sum += s.Count
			}
		}
		return atLeast(sum, n)
	})
}

// resolveARP makes sure the client knows the server's MAC before a flood,
// so no datagram of the flood waits in, or overflows, the neighbour
// queue: it sends one datagram to a closed port, which resolves the
// address if the entry has expired, and waits until the entry has one.
func (tp *topology) resolveARP(t *testing.T) {
	t.Helper()
	tp.sendUDP(t, tp.serverIP4, closedPort, 1)
	waitFor(t, "the client's neighbour entry for "+tp.serverIP4, settle, func() error {
		out := tp.in(t, tp.client, "ip", "neigh", "show", tp.serverIP4)
		if strings.Contains(out, " lladdr ") && !strings.Contains(out, "FAILED") && !strings.Contains(out, "INCOMPLETE") {
			return nil
		}
		return fmt.Errorf("ip neigh shows %q", strings.TrimSpace(out))
	})
}
