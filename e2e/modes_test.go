package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestClassicTracepoint runs the classic tracepoint in a mount namespace
// without tracefs: droptrace must mount it itself and report the same drops.
func TestClassicTracepoint(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	script := `umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug 2>/dev/null
test -e /sys/kernel/tracing/events && { echo "tracefs still mounted" >&2; exit 99; }
exec "$@"`
	tr := startTracerWith(t, []string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", binary(t)},
		"--output", "json", "--drop-hook", "tracepoint", "--filter-netns", tp.server, "--filter-proto", "udp")
	if !strings.Contains(tr.stderr.String(), "tracepoint/skb/kfree_skb") {
		t.Errorf("stderr %q does not name the classic tracepoint", tr.stderr.String())
	}
	const n = 3
	tp.sendUDP(t, tp.serverIP4, dropPort, n)
	tp.waitRule(t, "iptables", n, "udp", fmt.Sprintf("dpt:%d", dropPort))
	tr.waitLines(t, n)
	tr.stop(t)
	evs := tr.events(t)
	if len(evs) != n {
		t.Fatalf("got %d events, want %d: %+v", len(evs), n, evs)
	}
	for _, ev := range evs {
		checkDropEvent(t, ev, inode(t, tp.server), tp.serverIf)
	}
}

func TestTextOutput(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	tr := startTracer(t, "--filter-netns", tp.server, "--filter-port", fmt.Sprint(dropPort))
	tp.sendUDP(t, tp.serverIP4, dropPort, 1)
	tp.waitRule(t, "iptables", 1, "udp", fmt.Sprintf("dpt:%d", dropPort))
	tr.waitLines(t, 2) // the header and the drop
	tr.stop(t)
	lines := strings.Split(strings.TrimSpace(tr.stdout.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("want a header and one line, got:\n%s", tr.stdout.String())
	}
	// The NETNS column names the namespace ('ip netns' name) in place of
	// its inode.
	re := regexp.MustCompile(fmt.Sprintf(`^\d\d:\d\d:\d\d\.\d{6} +%s +%s +udp +%s:\d+ +> +%s:%d +\d+ +- +NETFILTER_DROP +nft_do_chain\+0x[0-9a-f]+`,
		regexp.QuoteMeta(tp.server), tp.serverIf, regexp.QuoteMeta(tp.clientIP4), regexp.QuoteMeta(tp.serverIP4), dropPort))
	if !re.MatchString(lines[1]) {
		t.Errorf("line %q does not match %v", lines[1], re)
	}
}

// TestCount stops by itself after --count drops.
func TestCount(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	tr := startTracer(t, "--output", "json", "--count", "2", "--filter-netns", tp.server)
	tp.sendUDP(t, tp.serverIP4, dropPort, 5)
	tr.wait(t)
	if evs := tr.events(t); len(evs) != 2 {
		t.Errorf("got %d events with --count 2", len(evs))
	}
}

// TestPcapToStdout pipes the capture into tcpdump, as `-w - | tcpdump -r -`.
func TestPcapToStdout(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	tcpdump := exec.Command("tcpdump", "-nn", "-r", "-")
	var out strings.Builder
	tcpdump.Stdin, tcpdump.Stdout, tcpdump.Stderr = pr, &out, &out
	if err := tcpdump.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tcpdump.Process.Kill() })
	tr := startTracerTo(t, pw, []string{binary(t), "-w", "-", "--count", "3", "--filter-netns", tp.server, "--filter-port", fmt.Sprint(dropPort)})
	pw.Close() // droptrace holds the write end: tcpdump sees the end of the capture when it exits
	tp.sendUDP(t, tp.serverIP4, dropPort, 3)
	tr.wait(t)
	done := make(chan error, 1)
	go func() { done <- tcpdump.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("tcpdump -r -: %v\n%s", err, out.String())
		}
	case <-time.After(exitWait):
		t.Fatalf("tcpdump did not end after droptrace did\n%s", out.String())
	}
	want := fmt.Sprintf("%s.", tp.clientIP4)
	if c := strings.Count(out.String(), want); c != 3 {
		t.Errorf("tcpdump shows %d packets from %s, want 3:\n%s", c, tp.clientIP4, out.String())
	}
}

// TestLostEvents stops droptrace while a flood fills its ring buffer: the
// events that did not fit must be counted and reported, and every drop
// accounted for.
func TestLostEvents(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	tr := startTracer(t, "--output", "json", "--filter-netns", tp.server, "--filter-port", fmt.Sprint(dropPort))
	tr.cmd.Process.Signal(syscall.SIGSTOP)
	// More than one CPU's ring holds (16 MiB at most, about 116,000
	// events), all sent from one CPU.
	const n = 200000
	floodUDPOneCPU(t, tp.client, tp.serverIP4, dropPort, n)
	tp.waitRule(t, "iptables", n, "udp", fmt.Sprintf("dpt:%d", dropPort))
	tr.cmd.Process.Signal(syscall.SIGCONT)
	tr.stop(t)
	r, m, l := exitCounts(t, tr.stderr.String(), "drops")
	reported, matched, lost := int(r), int(m), int(l)
	t.Logf("sent %d, matched %d, reported %d, lost %d", n, matched, reported, lost)
	// A stop that took longer than droptrace allows itself (on a busy
	// machine) leaves drops unwritten, and says how many; the output is
	// cut at a whole event then (an output abandoned as blocked may end
	// mid-line).
	unwritten := 0
	if m := unwrittenRe.FindStringSubmatch(tr.stderr.String()); m != nil {
		unwritten, _ = strconv.Atoi(m[1])
		t.Logf("%d drops unwritten at the stop", unwritten)
	}
	// An output abandoned as blocked (here this test's own reader, slow
	// while it grows a buffer of a hundred megabytes) may still take the
	// write it was blocked in, after droptrace counted what it reported:
	// at most one flush of its 64 KiB stdout buffer: the lines in it, and
	// the one it began in the write before.
	out := tr.stdout.String()
	lines, inFlight := completeJSONLines(out), -1
	if strings.Contains(tr.stderr.String(), "an output did not take them in time") {
		inFlight = 64 << 10
	}
	extra := lines - reported
	if extra != 0 && (extra < 0 || tailBytes(out, extra-1) > inFlight) {
		t.Errorf("%d JSON lines, summary says %d reported: want as many, or more by what one 64 KiB write holds when the output was abandoned", lines, reported)
	}
	t.Logf("%d JSON lines beyond the %d reported", extra, reported)
	if matched != n || reported+lost+unwritten != matched || lost == 0 {
		t.Errorf("sent %d, matched %d, reported %d, lost %d, unwritten %d: want matched = sent = reported + lost + unwritten, lost > 0",
			n, matched, reported, lost, unwritten)
	}
}

var unwrittenRe = regexp.MustCompile(`(\d+) matched drops not reported: stopped before writing them`)

// tailBytes is the size of the last n whole lines of out, newlines
// included (a last line cut short is not counted among them).
func tailBytes(out string, n int) int {
	out = out[:strings.LastIndexByte(out, '\n')+1]
	size := 0
	for ; n > 0 && out != ""; n-- {
		i := strings.LastIndexByte(out[:len(out)-1], '\n') + 1
		size += len(out) - i
		out = out[:i]
	}
	return size
}

// completeJSONLines counts the lines of out that are whole JSON objects;
// only the last may be cut short.
func completeJSONLines(out string) int {
	n := 0
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if json.Valid([]byte(line)) {
			n++
		}
	}
	return n
}
