package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestExplainNoSocket: closed UDP and TCP ports, and ports whose only
// listener is bound to another address or family, checked against ss.
func TestExplainNoSocket(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	pid := pyServer(t, tp.server, "SOCK_DGRAM", "127.0.0.1", 9003, 0)
	pyServer(t, tp.server, "SOCK_DGRAM", "0.0.0.0", 9004, 0)
	tr := startExplain(t, "--filter-netns", tp.server)
	ss := tp.in(t, tp.server, "ss", "-lntup")
	noSocket := func(port uint16, proto string) func(explainedEvent) bool {
		return func(ev explainedEvent) bool { return ev.Reason == "NO_SOCKET" && ev.Dport == port && ev.Proto == proto }
	}

	t.Run("closed udp", func(t *testing.T) {
		x := tr.awaitExplained(t, 10*time.Second, udpSend(tp.client, tp.serverIP4, 9001), noSocket(9001, "udp")).Explain
		if strings.Contains(ss, ":9001 ") || x.value(t, "listeners") != "0" {
			t.Errorf("listeners %s; ss -lntup:\n%s", x.value(t, "listeners"), ss)
		}
		x.wantCause(t, "nothing listens on udp port 9001")
	})
	t.Run("closed tcp", func(t *testing.T) {
		x := tr.awaitExplained(t, 10*time.Second, tcpConnect(tp.client, tp.serverIP4, 9002), noSocket(9002, "tcp")).Explain
		if strings.Contains(ss, ":9002 ") || x.value(t, "listeners") != "0" || !strings.Contains(x.Cause, "nothing listens on tcp port 9002") {
			t.Errorf("cause %q, listeners %s; ss -lntup:\n%s", x.Cause, x.value(t, "listeners"), ss)
		}
	})
	t.Run("listener on another address", func(t *testing.T) {
		x := tr.awaitExplained(t, 10*time.Second, udpSend(tp.client, tp.serverIP4, 9003), noSocket(9003, "udp")).Explain
		// UNCONN 0 0 127.0.0.1:9003 0.0.0.0:* users:(("python3",pid=N,fd=3))
		m := regexp.MustCompile(`udp .*127\.0\.0\.1:9003 .*pid=(\d+)`).FindStringSubmatch(ss)
		if m == nil || m[1] != strconv.Itoa(pid) {
			t.Fatalf("ss does not show the python listener %d:\n%s", pid, ss)
		}
		want := "udp 127.0.0.1:9003 pid " + m[1] + " (python3)"
		if got := x.values("listener"); len(got) != 1 || got[0] != want {
			t.Errorf("listener evidence %q, want %q (ss -lntup)", got, want)
		}
		x.wantCause(t, "but on 127.0.0.1, not on the packet's destination "+tp.serverIP4)
	})
	t.Run("listener of another family", func(t *testing.T) {
		x := tr.awaitExplained(t, 10*time.Second, udpSend(tp.client, tp.serverIP6, 9004), noSocket(9004, "udp")).Explain
		if !regexp.MustCompile(`udp .*0\.0\.0\.0:9004 `).MatchString(ss) {
			t.Fatalf("ss does not show the IPv4 listener on 9004:\n%s", ss)
		}
		if got := x.values("listener"); len(got) != 1 || !strings.HasPrefix(got[0], "udp 0.0.0.0:9004 pid ") {
			t.Errorf("listener evidence %q, want the IPv4 socket ss shows", got)
		}
		x.wantCause(t, "listens on port 9004, but only for IPv4")
	})
}

// TestExplainRcvbuf: a UDP receiver with a tiny SO_RCVBUF that never
// reads, checked against ss -m and sysctl.
func TestExplainRcvbuf(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	pid := pyServer(t, tp.server, "SOCK_DGRAM", "0.0.0.0", 9010, 1024)
	tr := startExplain(t, "--filter-netns", tp.server)
	flood := func() {
		exec.Command("ip", "netns", "exec", tp.client, "bash", "-c",
			fmt.Sprintf("for i in $(seq 50); do echo droptrace-filler-droptrace > /dev/udp/%s/9010; done", tp.serverIP4)).Run()
	}
	x := tr.awaitExplained(t, 10*time.Second, flood, reasonAt("SOCKET_RCVBUFF", "")).Explain

	// skmem:(r2304,rb2304,t0,tb212992,f1792,w0,o0,bl0,d46)
	out := tp.in(t, tp.server, "ss", "-uanmp", "sport", "= :9010")
	m := regexp.MustCompile(`skmem:\(r(\d+),rb(\d+),.*,d(\d+)\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no skmem in ss -m:\n%s", out)
	}
	if got := x.value(t, "rcvbuf"); got != m[2] {
		t.Errorf("rcvbuf %s, ss -m says rb%s", got, m[2])
	}
	drops, _ := strconv.Atoi(x.value(t, "drops"))
	ssDrops, _ := strconv.Atoi(m[3])
	if drops < 1 || drops > ssDrops {
		t.Errorf("drops %d, want 1..%d (ss -m, read later)", drops, ssDrops)
	}
	if got, want := x.value(t, "owner"), fmt.Sprintf("%d (python3)", pid); got != want {
		t.Errorf("owner %q, want %q", got, want)
	}
	if got, want := x.value(t, "socket"), "udp 0.0.0.0:9010"; got != want {
		t.Errorf("socket %q, want %q", got, want)
	}
	x.wantCause(t, "udp 0.0.0.0:9010 ("+m[2]+" bytes) was full")
	if got, want := x.value(t, "net.core.rmem_max"), tp.sysctlIn(t, tp.server, "net.core.rmem_max"); got != want {
		t.Errorf("net.core.rmem_max = %q, sysctl in the namespace says %q", got, want)
	}
	// udp_mem is global: it exists only in the initial namespace.
	want := strings.Join(strings.Fields(sh(t, "sysctl", "-n", "net.ipv4.udp_mem")), " ")
	if got := x.value(t, "net.ipv4.udp_mem"); got != want {
		t.Errorf("net.ipv4.udp_mem = %q, sysctl says %q", got, want)
	}
}

// TestExplainTCPAbortOnData: the server's application closes a
// connection, the client keeps sending, and the server's TCP rejects the
// data with a reset. On 6.18 the closed end has become a time-wait socket
// by then, and the drop reads NOT_SPECIFIED at tcp_v4_rcv (a full socket
// would say TCP_ABORT_ON_DATA); the explanation says what TCP rejected
// and which socket was left, checked against ss.
func TestExplainTCPAbortOnData(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	startPython(t, tp.server, `import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9030)); s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept(); c.close()`)
	tr := startExplain(t, "--filter-netns", tp.server)
	client := fmt.Sprintf(`import socket, time
c = socket.create_connection(("%s", 9030)); time.sleep(0.2)
try:
    c.sendall(b"x" * 100); time.sleep(0.2); c.sendall(b"y" * 100)
except OSError: pass`, tp.serverIP4)
	send := func() { exec.Command("ip", "netns", "exec", tp.client, "python3", "-c", client).Run() }
	ev := tr.awaitExplained(t, 10*time.Second, send, func(ev explainedEvent) bool {
		return ev.Dport == 9030 && (ev.Reason == "TCP_ABORT_ON_DATA" || reasonAt("NOT_SPECIFIED", "tcp_v4_rcv")(ev))
	})
	x := ev.Explain
	x.wantCause(t, "closed")
	want := ev.TCPState
	if want == "" {
		want = "none"
	}
	if got := x.value(t, "tcp_state_at_drop"); got != want {
		t.Errorf("tcp_state_at_drop %q, the drop's tcp_state %q", got, ev.TCPState)
	}
	// The reset destroyed the server's end: ss has no socket of that
	// connection left but the listener, and neither does the evidence.
	ss := tp.in(t, tp.server, "ss", "-tanH", fmt.Sprintf("sport = :9030 and dport = :%d", ev.Sport))
	if strings.TrimSpace(ss) != "" || x.value(t, "socket") != "none now" {
		t.Errorf("socket evidence %q, ss -tan says %q", x.value(t, "socket"), ss)
	}
	lst := tp.in(t, tp.server, "ss", "-ltnH", "sport = :9030") // LISTEN 0 8 0.0.0.0:9030 0.0.0.0:*
	if got := x.values("listener"); len(got) != 1 || !strings.HasPrefix(got[0], "tcp 0.0.0.0:9030 pid ") || !strings.Contains(lst, "0.0.0.0:9030") {
		t.Errorf("listener evidence %q, ss -ltn says %q", got, lst)
	}
}
