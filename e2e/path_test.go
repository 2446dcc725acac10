package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"regexp"
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

// maxLen bounds the len of any live skb: most hold at most 64 KiB, a BIG
// TCP packet 512 KiB, and an skb to which TCP's receive queue coalesced
// the segments after it at most MAX_SKB_FRAGS (17, at most 45) page
// fragments of 32 KiB. A freed skb's len is whatever the allocator left
// there (569070520 and 2409500856 where net_dev_xmit read one).
const maxLen = 4 << 20

// checkPaths checks the path invariants of a --trace event stream: every
// step has a path id; a path's end (drop or consume) is its last step; a
// step at an address after its path ended has a new path id; no len is
// beyond any skb's; no step is in a namespace of foreign. And what one
// skb's life cannot show: a path's steps come out in time order (its
// CPUs' rings merged), no step twice, and no second entry to the stack
// (net_dev_queue, netif_receive_skb) at the same device: that is the
// next skb at a freed one's address joined to its path.
func checkPaths(t *testing.T, evs []jsonEvent, foreign map[uint64]bool) {
	t.Helper()
	ended := map[string]bool{}         // path ids that ended
	lastPath := map[string]string{}    // skb address: path id of its last step
	lastEnded := map[string]bool{}     // skb address: its last step ended a path
	lastTime := map[string]time.Time{} // path id: the time of its last step
	steps := map[string][]string{}     // path id: funcs, for the log
	seen := map[string]bool{}          // path, func and time of every step
	entries := map[string]bool{}       // path, entry func, namespace and device
	faults := map[string]int{}         // fault: how many, beyond the first few logged
	fault := func(kind, format string, args ...any) {
		if faults[kind]++; faults[kind] <= 5 {
			t.Errorf(format, args...)
		}
	}
	for i, ev := range evs {
		at := fmt.Sprintf("event %d (%s %s %s len %d at %s)", i, ev.Path, ev.Kind, ev.Func, ev.Len, ev.Time)
		steps[ev.Path] = append(steps[ev.Path], ev.Func)
		switch {
		case ev.Path == "" || !strings.HasPrefix(ev.Path, ev.Skb+"-"):
			fault("id", "%s: path id %q is not the skb address %s and a generation", at, ev.Path, ev.Skb)
		case ended[ev.Path]:
			fault("after end", "%s: a step after its path ended", at)
		case lastEnded[ev.Skb] && lastPath[ev.Skb] == ev.Path:
			fault("no new id", "%s: follows the end of its address's path without a new path id", at)
		}
		if ev.Len >= maxLen {
			fault("len", "%s: len %d, no live skb's: read from a freed skb", at, ev.Len)
		}
		if foreign[ev.Netns] {
			fault("foreign", "%s: in namespace %d, which no traced packet entered: joined to a path it is not on", at, ev.Netns)
		}
		ts, err := time.Parse(time.RFC3339Nano, ev.Time)
		if err != nil {
			t.Fatalf("%s: time: %v", at, err)
		}
		if last, ok := lastTime[ev.Path]; ok && ts.Before(last) {
			fault("order", "%s: comes after a step of its path timed %s", at, last.Format(time.RFC3339Nano))
		}
		lastTime[ev.Path] = ts
		if key := ev.Path + " " + ev.Func + " " + ev.Time; seen[key] {
			fault("twice", "%s: the same step twice", at)
		} else {
			seen[key] = true
		}
		if ev.Func == "tp:net_dev_queue" || ev.Func == "tp:netif_receive_skb" {
			key := fmt.Sprintf("%s %s %d %d", ev.Path, ev.Func, ev.Netns, ev.Ifindex)
			if entries[key] {
				fault("joined", "%s: a second %s at device %d of namespace %d on one path: another skb's life joined to it", at, ev.Func, ev.Ifindex, ev.Netns)
			}
			entries[key] = true
		}
		end := ev.Kind == "drop" || ev.Kind == "consume"
		if end {
			ended[ev.Path] = true
		}
		lastPath[ev.Skb], lastEnded[ev.Skb] = ev.Path, end
	}
	for kind, n := range faults {
		if n > 5 {
			t.Errorf("%d steps in all with the fault %q", n, kind)
		}
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

// bulkPort receives the bulk TCP flow of TestTracePathBulkFlow.
const bulkPort = 7105

// TestTracePathBulkFlow follows a bulk TCP transfer between two
// namespaces, as fast as it goes, on this host's tracepoints: a hundred
// thousand steps, on both CPUs, in bursts that the reader takes in
// several drains. Each path must be one skb's life (checkPaths): the
// receiver frees most segments where no tracepoint fires, and the next
// segment often takes the freed skb's address and data buffer at once;
// its steps come out in time order though its CPUs' rings are read apart;
// and no step is written twice (programs that nest on a CPU must not
// share a buffer). What droptrace reports is what the kernel matched.
func TestTracePathBulkFlow(t *testing.T) {
	requireRoot(t)
	const n = 100000
	tp := newTopology(t)
	tr := startTracer(t, "--trace", "--output", "json", "--filter-netns", tp.client, "--filter-port", fmt.Sprint(bulkPort))
	xfer := tp.startTransfer(t, tp.serverIP4, bulkPort, 64<<10, 0)
	tr.waitLines(t, n)
	xfer.finish()
	// The server's FIN reaching the client is among the flow's last
	// steps: once it is written, droptrace has caught up with the rest,
	// and stops without leaving any of it unwritten.
	fin := regexp.MustCompile(fmt.Sprintf(`"sport":%d,"dport":\d+,"tcp_flags":"F[^"]*".*"func":"tp:netif_receive_skb"`, bulkPort))
	scanned := 0
	tr.waitOutput(t, "the server's FIN at the client", func(out []byte) error {
		if fin.Match(out[scanned:]) {
			return nil
		}
		scanned = bytes.LastIndexByte(out, '\n') + 1
		return errors.New("not yet")
	})
	tr.stop(t)
	evs := tr.events(t)
	if len(evs) < n {
		t.Fatalf("%d steps of the flow, want at least %d", len(evs), n)
	}
	checkPaths(t, evs, nil)
	reported, matched, lost := exitCounts(t, tr.stderr.String(), "path events")
	if reported != uint64(len(evs)) || reported != matched-lost {
		t.Errorf("%d steps written, report says %d reported of %d matched with %d lost; want every step matched and not lost reported once", len(evs), reported, matched, lost)
	}
	paths := map[string]bool{}
	for _, ev := range evs {
		paths[ev.Path] = true
	}
	t.Logf("%d steps on %d paths; %d lost", len(evs), len(paths), lost)
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
