package guest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/tracer"
)

// datagramsPerFamily is how many datagrams each address family sends; each
// comes from its own socket, so its source port tells its event apart.
const datagramsPerFamily = 3

// eventWait bounds how long the test waits for events; TCG is slow.
const eventWait = 30 * time.Second

// loopbackDrop is one family's UDP datagram to a closed port and the
// function the kernel drops it in.
type loopbackDrop struct {
	network  string
	dst      netip.Addr
	function string // the drop location starts with function+
}

var loopbackDrops = []loopbackDrop{
	{network: "udp4", dst: netip.MustParseAddr("127.0.0.1"), function: "__udp4_lib_rcv"},
	{network: "udp6", dst: netip.IPv6Loopback(), function: "__udp6_lib_rcv"},
}

// sentDatagram is one datagram the test sent.
type sentDatagram struct {
	drop loopbackDrop
	src  netip.AddrPort
	dst  netip.AddrPort
}

func TestDropsLoopback(t *testing.T) {
	requireVM(t)
	t.Logf("kernel %s", kernelRelease(t))
	port := closedPort(t)

	// Replies: the conntrack and reply code of the drop program must load
	// on every kernel (the reply programs only where both tracepoints exist).
	tr, err := tracer.Open(tracer.Config{Filter: filter.Spec{Proto: filter.ProtoUDP, Port: port}, Replies: true, Decoder: newDecoder(t, loadKallsyms(t))})
	if err != nil {
		t.Fatalf("opening tracer: %+v", err)
	}
	defer tr.Close()
	t.Logf("tracer mode %s, fallback %q", tr.Mode(), tr.Fallback())
	if got, want := tr.Mode(), tracer.ModeTpBTF; got != want {
		t.Errorf("Mode() = %q, want %q", got, want)
	}

	c := startCollector(tr)
	sent := sendAll(t, port)
	events := c.stop(t, len(sent))
	for _, ev := range events {
		t.Logf("event: reason=%s proto=%s %s:%d -> %s:%d location=%s len=%d",
			ev.Reason, ev.Proto, ev.Src, ev.Sport, ev.Dst, ev.Dport, ev.Location, ev.Len)
	}
	checkDrops(t, sent, events)
	checkStats(t, tr, len(sent))
}

func newDecoder(t *testing.T, syms *kernel.Symbols) *tracer.Decoder {
	t.Helper()
	reasons, err := kernel.LoadDropReasons()
	if err != nil {
		t.Fatalf("loading drop reasons: %v", err)
	}
	return tracer.NewDecoder(syms, reasons)
}

// loadKallsyms loads the kernel's symbols or fails the test.
func loadKallsyms(t *testing.T) *kernel.Symbols {
	t.Helper()
	syms, err := kernel.LoadKallsyms()
	if err != nil {
		t.Fatalf("loading kallsyms: %v", err)
	}
	return syms
}

// closedPort returns a port that no UDP or TCP socket of either family
// holds, below the kernel's ephemeral ports (ip_local_port_range). A port
// the kernel handed out and took back a moment ago may be handed out
// again as the source port of the very datagram or SYN sent to it, which
// then reaches its own socket instead of being dropped: CI saw a datagram
// from [::1]:P to [::1]:P queued on its sender and freed with it.
func closedPort(t *testing.T) uint16 {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Fatal(err)
	}
	var low, high int
	if _, err := fmt.Sscan(string(b), &low, &high); err != nil || low <= 2048 {
		t.Fatalf("ip_local_port_range %q: want the ephemeral ports above 2048", b)
	}
	for range 100 {
		port := uint16(1024 + rand.IntN(low-1024))
		if portFree(port) {
			return port
		}
	}
	t.Fatalf("no free port below %d in 100 tries", low)
	return 0
}

// portFree says whether a UDP and a TCP socket of both families (a dual
// stack one) can bind port.
func portFree(port uint16) bool {
	addr := netip.AddrPortFrom(netip.IPv6Unspecified(), port)
	u, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return false
	}
	defer u.Close()
	l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// sendAll sends datagramsPerFamily datagrams of each family to port, each
// from its own socket.
func sendAll(t *testing.T, port uint16) []sentDatagram {
	t.Helper()
	var sent []sentDatagram
	for _, d := range loopbackDrops {
		dst := netip.AddrPortFrom(d.dst, port)
		for i := 0; i < datagramsPerFamily; i++ {
			src := sendOne(t, d.network, dst)
			sent = append(sent, sentDatagram{drop: d, src: src, dst: dst})
		}
	}
	return sent
}

func sendOne(t *testing.T, network string, dst netip.AddrPort) netip.AddrPort {
	t.Helper()
	src, err := sendDatagram(network, dst)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// collector runs Tracer.Run in the background and keeps what it emits.
type collector struct {
	cancel context.CancelFunc
	events chan event.Event
	done   chan error
}

func startCollector(tr *tracer.Tracer) *collector {
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{cancel: cancel, events: make(chan event.Event, 1024), done: make(chan error, 1)}
	go func() {
		c.done <- tr.Run(ctx, func(ev *event.Event) error {
			select {
			case c.events <- *ev:
			default: // more events than any test sends: checkDrops reports the count
			}
			return nil
		}, nil)
	}()
	return c
}

// stop waits for want events or eventWait, stops the tracer and returns
// everything it emitted. No quiet period is needed to catch duplicates:
// Run detaches, which waits for the programs still running, and then
// drains the rings, so every event of a drop already made is returned;
// checkStats compares the kernel's own count with what was sent.
func (c *collector) stop(t *testing.T, want int) []event.Event {
	t.Helper()
	var events []event.Event
	deadline := time.After(eventWait)
wait:
	for len(events) < want {
		select {
		case ev := <-c.events:
			events = append(events, ev)
		case <-deadline:
			t.Errorf("got %d events after %v, want %d", len(events), eventWait, want)
			break wait
		}
	}
	c.cancel()
	if err := <-c.done; err != nil {
		t.Errorf("tracer.Run: %v", err)
	}
	close(c.events)
	for ev := range c.events {
		events = append(events, ev)
	}
	return events
}

// checkDrops checks that each sent datagram was reported exactly once, as
// the kernel drops it, and that nothing else was.
func checkDrops(t *testing.T, sent []sentDatagram, events []event.Event) {
	t.Helper()
	matched := 0
	for _, s := range sent {
		var got []event.Event
		for _, ev := range events {
			if ev.Src == s.src.Addr() && ev.Sport == s.src.Port() {
				got = append(got, ev)
			}
		}
		matched += len(got)
		if len(got) != 1 {
			t.Errorf("datagram %s -> %s: %d events, want 1", s.src, s.dst, len(got))
			continue
		}
		checkDrop(t, s, got[0])
	}
	if matched != len(events) {
		t.Errorf("%d events match no datagram sent", len(events)-matched)
	}
}

func checkDrop(t *testing.T, s sentDatagram, ev event.Event) {
	t.Helper()
	if got, want := ev.Reason, "NO_SOCKET"; got != want {
		t.Errorf("%s -> %s: reason %q, want %q", s.src, s.dst, got, want)
	}
	if got, want := ev.Proto, "udp"; got != want {
		t.Errorf("%s -> %s: proto %q, want %q", s.src, s.dst, got, want)
	}
	if got, want := netip.AddrPortFrom(ev.Dst, ev.Dport), s.dst; got != want {
		t.Errorf("%s -> %s: destination %s, want %s", s.src, s.dst, got, want)
	}
	if !strings.HasPrefix(ev.Location, s.drop.function+"+") {
		t.Errorf("%s -> %s: location %q, want %s+...", s.src, s.dst, ev.Location, s.drop.function)
	}
}

// checkStats checks the kernel-side counters: every datagram was seen and
// none was lost to a full ring buffer.
func checkStats(t *testing.T, tr *tracer.Tracer, sent int) {
	t.Helper()
	seen, lost, err := tr.Stats()
	if err != nil {
		t.Fatalf("reading stats: %v", err)
	}
	t.Logf("stats: seen %d, lost %d", seen, lost)
	if seen != uint64(sent) || lost != 0 {
		t.Errorf("stats: seen %d, lost %d; want seen %d, lost 0", seen, lost, sent)
	}
}
