package explain

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// udpSend sends one datagram to addr:port from namespace ns.
func udpSend(t *testing.T, ns, addr string, port int) func() {
	return func() {
		exec.Command("ip", "netns", "exec", ns, "bash", "-c", fmt.Sprintf("echo x > /dev/udp/%s/%d", addr, port)).Run()
	}
}

func tcpConnect(ns, addr string, port int) func() {
	return func() {
		exec.Command("ip", "netns", "exec", ns, "timeout", "2", "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", addr, port)).Run()
	}
}

// pyServer is a Python socket that binds and then sleeps, never reading.
func pyServer(t *testing.T, ns, kind, addr string, port, rcvbuf int) int {
	t.Helper()
	script := fmt.Sprintf(`import socket, time, sys
s = socket.socket(socket.AF_INET, socket.%s)
if %d: s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, %d)
s.bind(("%s", %d))
if s.type == socket.SOCK_STREAM: s.listen(1)
print("ready", flush=True)
time.sleep(600)`, kind, rcvbuf, rcvbuf, addr, port)
	cmd := exec.Command("ip", "netns", "exec", ns, "python3", "-c", script)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf[:5]) != "ready" {
		t.Fatalf("python server did not start: %v", err)
	}
	return cmd.Process.Pid // ip netns exec execs python3, so this is its pid
}

// TestNoSocketScenario: closed UDP and TCP ports, and a port whose only
// listener is bound to another address, checked against ss -lntup.
func TestNoSocketScenario(t *testing.T) {
	requireRoot(t)
	p := newPair(t, "10.231.1")
	pid := pyServer(t, p.server, "SOCK_DGRAM", "127.0.0.1", 9003, 0)
	pyServer(t, p.server, "SOCK_DGRAM", "0.0.0.0", 9004, 0)
	tr := startTracer(t, p.server)
	ss := in(t, p.server, "ss", "-lntup")

	t.Run("closed udp", func(t *testing.T) {
		ev := tr.await(t, 10*time.Second, udpSend(t, p.client, p.serverIP, 9001), func(j jsonEvent) bool {
			return j.Reason == "NO_SOCKET" && j.Dport == 9001
		})
		x := explain(t, ev)
		if strings.Contains(ss, ":9001 ") || value(t, x, "listeners") != "0" {
			t.Errorf("listeners %s; ss -lntup:\n%s", value(t, x, "listeners"), ss)
		}
		if !strings.Contains(x.Cause, "nothing listens on udp port 9001") {
			t.Errorf("cause %q", x.Cause)
		}
	})
	t.Run("closed tcp", func(t *testing.T) {
		ev := tr.await(t, 10*time.Second, tcpConnect(p.client, p.serverIP, 9002), func(j jsonEvent) bool {
			return j.Reason == "NO_SOCKET" && j.Dport == 9002 && j.Proto == "tcp"
		})
		x := explain(t, ev)
		if strings.Contains(ss, ":9002 ") || value(t, x, "listeners") != "0" || !strings.Contains(x.Cause, "nothing listens on tcp port 9002") {
			t.Errorf("cause %q, listeners %s; ss -lntup:\n%s", x.Cause, value(t, x, "listeners"), ss)
		}
	})
	t.Run("listener on another address", func(t *testing.T) {
		ev := tr.await(t, 10*time.Second, udpSend(t, p.client, p.serverIP, 9003), func(j jsonEvent) bool {
			return j.Reason == "NO_SOCKET" && j.Dport == 9003
		})
		x := explain(t, ev)
		// ss -lntup: UNCONN 0 0 127.0.0.1:9003 0.0.0.0:* users:(("python3",pid=N,fd=3))
		m := regexp.MustCompile(`udp .*127\.0\.0\.1:9003 .*pid=(\d+)`).FindStringSubmatch(ss)
		if m == nil || m[1] != strconv.Itoa(pid) {
			t.Fatalf("ss does not show the python listener %d:\n%s", pid, ss)
		}
		want := "udp 127.0.0.1:9003 pid " + m[1] + " (python3)"
		if got := values(x, "listener"); len(got) != 1 || got[0] != want {
			t.Errorf("listener evidence %q, want %q (ss -lntup)", got, want)
		}
		if !strings.Contains(x.Cause, "but on 127.0.0.1, not on the packet's destination "+p.serverIP) {
			t.Errorf("cause %q", x.Cause)
		}
	})
	t.Run("listener of another family", func(t *testing.T) {
		ev := tr.await(t, 10*time.Second, udpSend(t, p.client, p.serverIP6, 9004), func(j jsonEvent) bool {
			return j.Reason == "NO_SOCKET" && j.Dport == 9004
		})
		x := explain(t, ev)
		if !regexp.MustCompile(`udp .*0\.0\.0\.0:9004 `).MatchString(ss) {
			t.Fatalf("ss does not show the IPv4 listener on 9004:\n%s", ss)
		}
		if got := values(x, "listener"); len(got) != 1 || !strings.HasPrefix(got[0], "udp 0.0.0.0:9004 pid ") {
			t.Errorf("listener evidence %q, want the IPv4 socket ss shows", got)
		}
		if !strings.Contains(x.Cause, "listens on port 9004, but only for IPv4") {
			t.Errorf("cause %q", x.Cause)
		}
	})
}

// TestRcvbufScenario: a UDP receiver with a tiny SO_RCVBUF that never
// reads, checked against ss -m and sysctl.
func TestRcvbufScenario(t *testing.T) {
	requireRoot(t)
	p := newPair(t, "10.231.2")
	pid := pyServer(t, p.server, "SOCK_DGRAM", "0.0.0.0", 9010, 1024)
	tr := startTracer(t, p.server)
	flood := func() {
		exec.Command("ip", "netns", "exec", p.client, "bash", "-c",
			fmt.Sprintf("for i in $(seq 50); do echo droptrace-filler-droptrace > /dev/udp/%s/9010; done", p.serverIP)).Run()
	}
	ev := tr.await(t, 10*time.Second, flood, reasonAt("SOCKET_RCVBUFF", ""))
	x := explain(t, ev)

	// ss -m: skmem:(r2304,rb2304,t0,tb212992,f1792,w0,o0,bl0,d46)
	out := in(t, p.server, "ss", "-uanmp", "sport", "= :9010")
	m := regexp.MustCompile(`skmem:\(r(\d+),rb(\d+),.*,d(\d+)\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no skmem in ss -m:\n%s", out)
	}
	if got := value(t, x, "rcvbuf"); got != m[2] {
		t.Errorf("rcvbuf %s, ss -m says rb%s", got, m[2])
	}
	drops, _ := strconv.Atoi(value(t, x, "drops"))
	ssDrops, _ := strconv.Atoi(m[3])
	if drops < 1 || drops > ssDrops {
		t.Errorf("drops %d, want 1..%d (ss -m, read later)", drops, ssDrops)
	}
	if got, want := value(t, x, "owner"), fmt.Sprintf("%d (python3)", pid); got != want {
		t.Errorf("owner %q, want %q", got, want)
	}
	if !strings.Contains(x.Cause, "udp 0.0.0.0:9010 ("+m[2]+" bytes) was full") {
		t.Errorf("cause %q does not name the socket and its buffer", x.Cause)
	}
	if got, want := value(t, x, "socket"), "udp 0.0.0.0:9010"; got != want {
		t.Errorf("socket %q, want %q", got, want)
	}
	want := strings.Join(strings.Fields(in(t, p.server, "sysctl", "-n", "net.core.rmem_max")), " ")
	if got := value(t, x, "net.core.rmem_max"); got != want {
		t.Errorf("net.core.rmem_max = %q, sysctl in the namespace says %q", got, want)
	}
	// udp_mem is global: it exists only in the initial namespace.
	want = strings.Join(strings.Fields(sh(t, "sysctl", "-n", "net.ipv4.udp_mem")), " ")
	if got := value(t, x, "net.ipv4.udp_mem"); got != want {
		t.Errorf("net.ipv4.udp_mem = %q, sysctl says %q", got, want)
	}
}
