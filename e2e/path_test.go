package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mtuPort receives the datagrams too big for the server's MTU.
const mtuPort = 7003

// TestTracePathEnds traces, with --trace on this host's tracepoints, two
// kinds of drop in one namespace pair: a netfilter DROP, and 1400-byte DF
// datagrams sent into a veth whose peer has MTU 1000 (dropped by the veth,
// after which net:net_dev_xmit fires for the freed skb). A second pair
// makes the same drops in other namespaces, with the same addresses.
// Every path must end at its free and stay ended: no step follows the end
// under the same path id, no step reads a freed skb (a len no skb has),
// and no step of the other namespaces joins a path.
func TestTracePathEnds(t *testing.T) {
	requireRoot(t)
	a, b := newTopology(t), newTopology(t)
	for _, tp := range []*topology{a, b} {
		tp.addRules(t)
		tp.in(t, tp.server, "ip", "link", "set", tp.serverIf, "mtu", "1000")
	}
	const n = 20
	tr := startTracer(t, "--trace", "--output", "json", "--filter-netns", a.client, "--filter-dst-ip", a.serverIP4)
	for _, tp := range []*topology{a, b} {
		tp.sendUDP(t, tp.serverIP4, dropPort, n)
		tp.sendBig(t, tp.serverIP4, mtuPort, n)
	}
	a.waitRule(t, "iptables", n, "udp", fmt.Sprintf("dpt:%d", dropPort))
	tr.waitEvents(t, "the netfilter and MTU drops", 2*n, func(ev jsonEvent) bool {
		return ev.Kind == "drop" && (ev.Dport == dropPort || ev.Dport == mtuPort)
	})
	tr.stop(t)
	evs := tr.events(t)
	checkPaths(t, evs, map[uint64]bool{inode(t, b.client): true, inode(t, b.server): true})
	ends := map[uint16]int{}
	for _, ev := range evs {
		if ev.Kind == "drop" {
			ends[ev.Dport]++
		}
	}
	if ends[dropPort] < n || ends[mtuPort] < n {
		t.Errorf("paths ending in a drop: %d to port %d, %d to port %d; want %d each", ends[dropPort], dropPort, ends[mtuPort], mtuPort, n)
	}
}

// sendBig sends n datagrams of 1400 bytes (IP header included) with DF
// set, as UDP sockets do by default (path MTU discovery).
func (tp *topology) sendBig(t *testing.T, addr string, port, n int) {
	t.Helper()
	script := fmt.Sprintf("for i in $(seq %d); do head -c 1372 /dev/zero > /dev/udp/%s/%d; done", n, addr, port)
	tp.in(t, tp.client, "bash", "-c", script)
}

// maxLen bounds the len of any live skb: 64 KiB of packet and its
// headroom. A freed skb's len is whatever the allocator left there.
const maxLen = 65536 + 2048

// checkPaths checks the path invariants of a --trace event stream: every
// step has a path id; a path's end (drop or consume) is its last step; a
// step at an address after its path ended has a new path id; no len is
// beyond any skb's; no step is in a namespace of foreign.
func checkPaths(t *testing.T, evs []jsonEvent, foreign map[uint64]bool) {
	t.Helper()
	ended := map[string]bool{}      // path ids that ended
	lastPath := map[string]string{} // skb address: path id of its last step
	lastEnded := map[string]bool{}  // skb address: its last step ended a path
	steps := map[string][]string{}  // path id: funcs, for the log
	for i, ev := range evs {
		at := fmt.Sprintf("event %d (%s %s %s len %d)", i, ev.Path, ev.Kind, ev.Func, ev.Len)
		steps[ev.Path] = append(steps[ev.Path], ev.Func)
		switch {
		case ev.Path == "" || !strings.HasPrefix(ev.Path, ev.Skb+"-"):
			t.Errorf("%s: path id %q is not the skb address %s and a generation", at, ev.Path, ev.Skb)
		case ended[ev.Path]:
			t.Errorf("%s: a step after its path ended", at)
		case lastEnded[ev.Skb] && lastPath[ev.Skb] == ev.Path:
			t.Errorf("%s: follows the end of its address's path without a new path id", at)
		}
		if ev.Len >= maxLen {
			t.Errorf("%s: len %d, no live skb's: read from a freed skb", at, ev.Len)
		}
		if foreign[ev.Netns] {
			t.Errorf("%s: in namespace %d, which no traced packet entered: joined to a path it is not on", at, ev.Netns)
		}
		end := ev.Kind == "drop" || ev.Kind == "consume"
		if end {
			ended[ev.Path] = true
		}
		lastPath[ev.Skb], lastEnded[ev.Skb] = ev.Path, end
	}
	n := 0
	for id, funcs := range steps {
		if n < 3 {
			t.Logf("path %s: %s", id, strings.Join(funcs, " > "))
		}
		n++
	}
	t.Logf("%d events, %d paths", len(evs), len(steps))
}

// TestTracePathAddressReuse traces one TCP flow on this host's
// tracepoints while another, not traced, runs beside it in the same
// namespaces. TCP frees most of its skbs where no tracepoint fires, and
// the next skb at that address (often the other flow's, with the same
// data buffer) must not continue the freed one's path: no step of the
// untraced flow may appear.
func TestTracePathAddressReuse(t *testing.T) {
	requireRoot(t)
	const traced, other = 7101, 7102
	tp := newTopology(t)
	tr := startTracer(t, "--trace", "--output", "json", "--filter-netns", tp.client, "--filter-port", fmt.Sprint(traced))
	a := tp.startTransfer(t, tp.serverIP4, traced, 100, time.Millisecond)
	b := tp.startTransfer(t, tp.serverIP4, other, 100, 0)
	tr.waitEvents(t, "steps of the traced flow", 3000, func(ev jsonEvent) bool {
		return ev.Sport == traced || ev.Dport == traced
	})
	a.finish()
	b.finish()
	tr.stop(t)
	evs := tr.events(t)
	joined := 0
	for i, ev := range evs {
		if ev.Sport == other || ev.Dport == other {
			if joined < 5 {
				t.Errorf("event %d (%s %s %s): a step of the untraced flow joined a path", i, ev.Path, ev.Kind, ev.Func)
			}
			joined++
		}
	}
	if joined > 0 {
		t.Errorf("%d of %d steps are of the untraced flow", joined, len(evs))
	}
	checkPaths(t, evs, nil)
}

// inFlightPort receives datagrams that wait in a socket's queue.
const inFlightPort = 7104

// TestTracePathsInFlight keeps a thousand traced datagrams alive at once,
// queued on a UDP socket that reads none, then closes the socket, which
// drops them all. Each drop must end the path that started at the
// client's transmit: the table of live paths (bpf/paths.h) must hold them
// all, so a hash that put many addresses in one set, forgetting paths,
// fails here. (A read would not show: UDP copies a linear skb out and
// frees it where no tracepoint fires.)
func TestTracePathsInFlight(t *testing.T) {
	requireRoot(t)
	const n = 1000
	tp := newTopology(t)
	conn := listenUDPQueue(t, tp.server, tp.serverIP4, inFlightPort, 8<<20)
	tr := startTracer(t, "--trace", "--output", "json", "--filter-netns", tp.client, "--filter-port", fmt.Sprint(inFlightPort))
	server := inode(t, tp.server)
	arrived := func(ev jsonEvent) bool { return ev.Func == "tp:netif_receive_skb" && ev.Netns == server }
	dropped := func(ev jsonEvent) bool { return ev.Kind == "drop" && ev.Dport == inFlightPort }
	floodUDP(t, tp.client, tp.serverIP4, inFlightPort, n)
	tr.waitEvents(t, "every datagram at the server", n, arrived)
	conn.Close()
	tr.waitEvents(t, "the queued datagrams dropped at close", n*9/10, dropped)
	tr.stop(t)
	evs := tr.events(t)
	checkPaths(t, evs, nil)
	client := inode(t, tp.client)
	sent := map[string]bool{} // paths with a step in the client's namespace
	queued, drops, lost := 0, 0, 0
	for _, ev := range evs {
		if ev.Netns == client {
			sent[ev.Path] = true
		}
		if arrived(ev) {
			queued++
		}
		if !dropped(ev) {
			continue
		}
		drops++
		if !sent[ev.Path] {
			if lost < 5 {
				t.Errorf("path %s of a queued datagram starts at its drop: the path of its transmit was forgotten", ev.Path)
			}
			lost++
		}
	}
	if queued < n*9/10 {
		t.Fatalf("%d of %d datagrams reached the server's socket; want nearly all, queued at once", queued, n)
	}
	// Only a path still known at the close reports its drop: the filter
	// names the client's namespace, and the drop is in the server's.
	if drops < queued || lost > 0 {
		t.Errorf("of %d datagrams queued at once, %d were reported dropped at close on their path and %d on a new path; want all on their path", queued, drops-lost, lost)
	}
	t.Logf("%d datagrams queued at once, %d reported dropped at close on their own path", queued, drops-lost)
}

// listenUDPQueue opens a UDP socket on addr:port in namespace ns with a
// receive buffer of size bytes (SO_RCVBUFFORCE, past rmem_max) and does
// not read it.
func listenUDPQueue(t *testing.T, ns, addr string, port, size int) *net.UDPConn {
	t.Helper()
	var conn *net.UDPConn
	inNetns(t, ns, func() (err error) {
		conn, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(addr), Port: port})
		return err
	})
	t.Cleanup(func() { conn.Close() })
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
	}); err != nil || serr != nil {
		t.Fatalf("setting SO_RCVBUFFORCE: %v %v", err, serr)
	}
	return conn
}
