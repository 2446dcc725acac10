package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// resetConnections is how many connections TestTCPStateResetStorm opens
// and resets: the 40,000, under which a sock_diag look-up after
// the event left 89% of the events without tcp_info.
const resetConnections = 40000

// resetStormRSS bounds droptrace's resident memory through the storm. Its
// queues are bounded (the rings, the annotation backlog of 65,536 events,
// the look-up queue); what they hold at most stays well under this.
const resetStormRSS = 256 << 20

// TestTCPStateResetStorm opens 40,000 connections and resets each from the
// client (SO_LINGER 0): every reset event droptrace writes, the client's
// reset_sent and the server's reset_received, must carry the socket's
// state read at the event, although both sockets are gone a moment later;
// every reset_sent not written must be counted lost; droptrace's resident
// memory must stay bounded.
func TestTCPStateResetStorm(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	const port = 7331
	tr := startTracer(t, "--tcp", "--output", "json", "--filter-port", strconv.Itoa(port))
	rss := watchRSS(t, tr.cmd.Process.Pid)
	var ln net.Listener
	inNetns(t, tp.server, func() (err error) {
		ln, err = (&net.ListenConfig{}).Listen(t.Context(), "tcp4", net.JoinHostPort(tp.serverIP4, strconv.Itoa(port)))
		return err
	})
	t.Cleanup(func() { ln.Close() })
	go discard(ln)
	resetMany(t, tp, net.JoinHostPort(tp.serverIP4, strconv.Itoa(port)), resetConnections)
	clientNS, serverNS := inode(t, tp.client), inode(t, tp.server)
	tr.waitOutput(t, fmt.Sprintf("%d reset_sent events", resetConnections), func(out []byte) error {
		return atLeast(uint64(strings.Count(string(out), `"kind":"reset_sent"`)), resetConnections)
	})
	tr.stop(t)
	peak := rss.finish()

	sent, received := checkResetStates(t, tr.tcpEvents(t), clientNS, serverNS)
	reported, matched, lost := tcpSummary(t, tr.stderr.String())
	t.Logf("%d connections reset: %d reset_sent, %d reset_received written; summary: %d reported, %d matched, %d lost; peak RSS %d MiB",
		resetConnections, sent, received, reported, matched, lost, peak>>20)
	t.Logf("droptrace: %s", tcpInfoLine(tr.stderr.String()))
	if sent > resetConnections || sent+lost < resetConnections {
		t.Errorf("%d reset_sent written and %d events counted lost for %d resets: want every reset written or counted lost", sent, lost, resetConnections)
	}
	if received == 0 {
		t.Errorf("no reset_received in the server's namespace: the test proves nothing for the receiving end")
	}
	if peak == 0 || peak > resetStormRSS {
		t.Errorf("droptrace's peak RSS %d MiB, want some and at most %d MiB", peak>>20, resetStormRSS>>20)
	}
}

// resetMany connects n times to addr from the client namespace, on a few
// threads, and resets each connection as soon as it is established.
func resetMany(t *testing.T, tp *topology, addr string, n int) {
	t.Helper()
	const workers = 8
	var next atomic.Int64
	errs := make(chan error, workers)
	for range workers {
		go func() {
			errs <- runInNetns(tp.client, func() error {
				for next.Add(1) <= int64(n) {
					if err := connectAndReset(addr); err != nil {
						return err
					}
				}
				return nil
			})
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatalf("resetting connections: %v", err)
		}
	}
}

// connectAndReset connects to addr and closes the connection with
// SO_LINGER 0, which sends an RST instead of a FIN and leaves no
// TIME_WAIT, so the ports can be reused at once.
func connectAndReset(addr string) error {
	c, err := net.DialTimeout("tcp4", addr, 10*time.Second)
	if err != nil {
		return err
	}
	if err := c.(*net.TCPConn).SetLinger(0); err != nil {
		c.Close()
		return err
	}
	return c.Close()
}

// checkResetStates checks that every reset event of the test's namespaces
// carries the state of its socket read at the event, and counts them.
func checkResetStates(t *testing.T, evs []tcpEvent, clientNS, serverNS uint64) (sent, received int) {
	t.Helper()
	bad := 0
	for _, ev := range evs {
		switch {
		case ev.Kind == "reset_sent" && ev.Netns == clientNS:
			sent++
		case ev.Kind == "reset_received" && ev.Netns == serverNS:
			received++
		default:
			continue
		}
		ti := ev.TCPInfo
		if ti == nil || !ti.AtEvent || ti.State != ev.TCPState || ev.TCPState == "" || ti.SndCwnd == 0 || ti.RTO == 0 {
			if bad++; bad <= 5 {
				t.Errorf("%s at %s (state %q): tcp_info %+v, want the socket's state read at the event", ev.Kind, ev.Time, ev.TCPState, ti)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d reset events lack the state read at the event", bad, sent+received)
	}
	return sent, received
}

var tcpInfoLineRe = regexp.MustCompile(`tcp_info: .*`)

func tcpInfoLine(stderr string) string {
	return tcpInfoLineRe.FindString(stderr)
}

// rssWatch samples a process's resident memory until finished.
type rssWatch struct {
	peak atomic.Uint64
	stop chan struct{}
	once sync.Once
	done chan struct{}
}

// watchRSS samples the VmRSS of pid every 50 ms.
func watchRSS(t *testing.T, pid int) *rssWatch {
	w := &rssWatch{stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { w.finish() })
	go func() {
		defer close(w.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if n, err := vmRSS(pid); err == nil && n > w.peak.Load() {
				w.peak.Store(n)
			}
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// finish stops sampling and returns the peak seen, in bytes.
func (w *rssWatch) finish() uint64 {
	w.once.Do(func() { close(w.stop) })
	<-w.done
	return w.peak.Load()
}

// vmRSS reads the VmRSS line of /proc/PID/status, in bytes.
func vmRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS line")
}

// burstLoss is how many of the flow's segments the nft rule drops in
// TestTCPStateLossBurst before it is removed.
const burstLoss = 40

// TestTCPStateLossBurst drops a quarter of a transfer's segments with an
// nft rule until it has dropped burstLoss of them. The sender's
// retransmissions come in quick bursts, many within one look-up interval,
// and each retransmit event must show the state at that retransmission:
// total_retrans grows from one event of the flow to the next, and the last
// event's equals what ss shows for the socket once everything is
// acknowledged.
func TestTCPStateLossBurst(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	const port = 7341
	tr := startTracer(t, "--tcp", "--output", "json", "--filter-port", strconv.Itoa(port), "--filter-netns", tp.client)
	xfer := tp.startTransfer(t, tp.serverIP4, port, 16<<10, time.Millisecond)
	tp.waitSS(t, "1 MB of the transfer acknowledged", xfer.localPort(), acked(1<<20))
	tp.lossBurst(t, port, burstLoss)
	xfer.pause()
	var final ssSample
	tp.waitSS(t, "every segment acknowledged", xfer.localPort(), func(s ssSample) error {
		if s.unacked != 0 {
			return fmt.Errorf("%d segments unacknowledged", s.unacked)
		}
		final = s
		return nil
	})
	tr.stop(t)
	xfer.finish()

	clientNS := inode(t, tp.client)
	var totals []uint32
	for _, ev := range tr.tcpEvents(t) {
		if ev.Kind != "retransmit" || ev.Netns != clientNS || ev.Sport != xfer.localPort() {
			continue
		}
		if ev.TCPInfo == nil || !ev.TCPInfo.AtEvent {
			t.Fatalf("retransmit at %s: tcp_info %+v, want the state read at the event", ev.Time, ev.TCPInfo)
		}
		totals = append(totals, ev.TCPInfo.TotalRetrans)
	}
	_, _, lost := tcpSummary(t, tr.stderr.String())
	t.Logf("%d retransmits of the flow, total_retrans %v; ss after: retrans total %d; %d events lost", len(totals), totals, final.totalRetrans, lost)
	if len(totals) < 5 {
		t.Fatalf("%d retransmits of the flow: want a burst of at least 5", len(totals))
	}
	if lost != 0 {
		t.Fatalf("%d TCP events lost: the flow's retransmits cannot be compared with ss", lost)
	}
	for i := 1; i < len(totals); i++ {
		if totals[i] <= totals[i-1] {
			t.Errorf("retransmit %d: total_retrans %d after %d, want it to grow at every retransmission", i, totals[i], totals[i-1])
		}
	}
	if last := totals[len(totals)-1]; last != final.totalRetrans {
		t.Errorf("last retransmit's total_retrans %d, ss shows %d once all is acknowledged", last, final.totalRetrans)
	}
}

// lossBurst drops a quarter of the server's incoming TCP segments to
// port, with an nft rule in a table of its own, until it has dropped n.
func (tp *topology) lossBurst(t *testing.T, port, n int) {
	t.Helper()
	table := "droptrace_loss"
	tp.in(t, tp.server, "nft", "add", "table", "inet", table)
	t.Cleanup(func() { exec.Command("ip", "netns", "exec", tp.server, "nft", "delete", "table", "inet", table).Run() })
	tp.in(t, tp.server, "nft", "add", "chain", "inet", table, "input", "{ type filter hook input priority 0; }")
	tp.in(t, tp.server, "nft", "add", "rule", "inet", table, "input", "tcp", "dport", strconv.Itoa(port),
		"numgen", "random", "mod", "4", "0", "counter", "drop")
	waitFor(t, fmt.Sprintf("the nft rule to drop %d segments", n), settle, func() error {
		out := tp.in(t, tp.server, "nft", "list", "chain", "inet", table, "input")
		m := nftPackets.FindStringSubmatch(out)
		if m == nil {
			return fmt.Errorf("no counter in %q", out)
		}
		got, _ := strconv.ParseUint(m[1], 10, 64)
		return atLeast(got, uint64(n))
	})
	tp.in(t, tp.server, "nft", "delete", "table", "inet", table)
}

var nftPackets = regexp.MustCompile(`counter packets (\d+)`)
