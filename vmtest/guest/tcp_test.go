package guest

import (
	"io"
	"net"
	"testing"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/tracer"
)

// debianHZ is the CONFIG_HZ of every Debian kernel the VMs boot (their
// /boot/config-* say so), which the guest, without those files, measures.
const debianHZ = 250

// TestTCPStateAtEvent resets an established loopback connection from the
// client (SO_LINGER 0) and checks the state the TCP programs read from
// both sockets at the event, through this kernel's struct tcp_sock
// layout (CO-RE) and its HZ: the guest has no kernel config, so HZ is
// measured and must be Debian's; a wrong one also shows in the RTO, which
// is the RTT plus at least the 200 ms minimum.
func TestTCPStateAtEvent(t *testing.T) {
	requireVM(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).AddrPort().Port()
	tr, err := tracer.Open(tracer.Config{Filter: filter.Spec{Port: port}, TCP: true, Decoder: newDecoder(t, loadKallsyms(t))})
	if err != nil {
		t.Fatalf("opening tracer: %+v", err)
	}
	defer tr.Close()
	hz, source := tr.HZ()
	t.Logf("kernel %s: TCP programs via %s, HZ %d (%s)", kernelRelease(t), tr.TCPMode(), hz, source)
	if hz != debianHZ {
		t.Errorf("HZ %d (%s), want Debian's %d", hz, source, debianHZ)
	}

	c := startCollector(tr)
	resetLoopback(t, ln)
	events := c.stop(t, 2)
	var sent, received int
	for _, ev := range events {
		t.Logf("event %s %s:%d > %s:%d state %s tcp_info %+v", ev.Kind, ev.Src, ev.Sport, ev.Dst, ev.Dport, ev.TCPState, ev.TCPInfo)
		switch {
		// The client's socket has released its port by the time it sends
		// the reset (tcp_disconnect closes it first): match on the server's.
		case ev.Kind == event.KindResetSent && ev.Dport == port:
			sent++
			checkAtEvent(t, ev, true)
		case ev.Kind == event.KindResetReceived && ev.Sport == port:
			received++
			checkAtEvent(t, ev, false)
		}
	}
	if sent != 1 || received != 1 {
		t.Errorf("%d reset_sent and %d reset_received of the connection, want 1 each", sent, received)
	}
}

// resetLoopback connects to ln, sends a little data the server reads,
// and resets the connection from the client.
func resetLoopback(t *testing.T, ln net.Listener) {
	t.Helper()
	read := make(chan error, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			read <- err
			return
		}
		defer s.Close()
		_, err = io.ReadFull(s, make([]byte, 4096))
		read <- err
		io.Copy(io.Discard, s) // until the reset
	}()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatalf("server read: %v", err)
	}
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

// checkAtEvent checks the state read at a reset: the sender's RTT was
// sampled from its data's ACKs; both RTOs must be the loopback's.
func checkAtEvent(t *testing.T, ev event.Event, sender bool) {
	t.Helper()
	ti := ev.TCPInfo
	if ti == nil || !ti.AtEvent {
		t.Errorf("%s: tcp_info %+v, want the state read at the event", ev.Kind, ti)
		return
	}
	if ti.State != ev.TCPState || ti.SndCwnd == 0 || ti.SndSsthresh == 0 {
		t.Errorf("%s: tcp_info %+v, want state %s, a cwnd and an ssthresh", ev.Kind, *ti, ev.TCPState)
	}
	// The kernel's RTO is srtt plus a variance of at least 200 ms (its
	// upper bound depends on the RTT's history), rounded up to a jiffy;
	// with HZ too high, the µs would come out too low. debianHZ checks
	// the other way.
	if lo := 200000 + ti.RTT; ti.RTO < lo || ti.RTO > 120000000 {
		t.Errorf("%s: rto %d µs with rtt %d µs: want %d µs to 120 s", ev.Kind, ti.RTO, ti.RTT, lo)
	}
	// No upper bound: under TCG on a busy host, loopback RTTs reach
	// hundreds of ms; the RTO check above ties the two together.
	if sender && ti.RTT == 0 {
		t.Errorf("%s: rtt 0, want the RTT its data's ACKs measured", ev.Kind)
	}
}
