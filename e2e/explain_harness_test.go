package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The --explain scenarios make each kind of drop for real in the
// namespaces of a topology, run droptrace --explain -o json on them, and
// check the explain object of the drop against what ss, ip, tc and
// sysctl say: the oracles.

// explainedEvent is a line of droptrace --explain -o json.
type explainedEvent struct {
	jsonEvent
	TCPState string       `json:"tcp_state"`
	Explain  *explanation `json:"explain"`
}

// explanation is the explain object of the JSON schema.
type explanation struct {
	Cause    string `json:"cause"`
	Evidence []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"evidence"`
	Fix string `json:"fix"`
	Doc string `json:"doc"`
}

// startExplain runs droptrace --explain -o json with the given filters.
func startExplain(t *testing.T, filters ...string) *tracer {
	t.Helper()
	return startTracer(t, append([]string{"--explain", "-o", "json"}, filters...)...)
}

// awaitDrop returns the first drop written for which match holds, failing
// after timeout, while act (when not nil) is repeated every second to
// make it.
func (tr *tracer) awaitDrop(t *testing.T, timeout time.Duration, act func(), match func(explainedEvent) bool) explainedEvent {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if act != nil {
			act()
		}
		for _, ev := range decodeLines[explainedEvent](t, tr.stdout.Lines()) {
			if ev.Kind == "drop" && match(ev) {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching drop within %v; droptrace wrote:\n%s", timeout, summarizeDrops(tr.stdout.Lines()))
		}
		time.Sleep(time.Second)
	}
}

// awaitExplained is awaitDrop for a droptrace --explain: the drop must
// have an explain object.
func (tr *tracer) awaitExplained(t *testing.T, timeout time.Duration, act func(), match func(explainedEvent) bool) explainedEvent {
	t.Helper()
	ev := tr.awaitDrop(t, timeout, act, match)
	x := ev.Explain
	if x == nil {
		t.Fatalf("%s at %s has no explain object", ev.Reason, ev.Location)
	}
	t.Logf("%s at %s: cause: %s; evidence: %v; fix: %s", ev.Reason, ev.Location, x.Cause, x.Evidence, x.Fix)
	return ev
}

// summarizeDrops is what droptrace wrote, one short line a drop.
func summarizeDrops(out []byte) string {
	var b strings.Builder
	for _, line := range bytes.Split(out, []byte("\n")) {
		if len(line) > 200 {
			line = append(line[:200:200], "..."...)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// value returns the evidence under key, failing when there is none.
func (x *explanation) value(t *testing.T, key string) string {
	t.Helper()
	v := x.values(key)
	if len(v) == 0 {
		t.Fatalf("no evidence %q in %v", key, x.Evidence)
	}
	return v[0]
}

// wantCause fails when the cause does not say part.
func (x *explanation) wantCause(t *testing.T, part string) {
	t.Helper()
	if !strings.Contains(x.Cause, part) {
		t.Errorf("cause %q, want it to say %q", x.Cause, part)
	}
}

func (x *explanation) values(key string) []string {
	var out []string
	for _, e := range x.Evidence {
		if e.Key == key {
			out = append(out, e.Value)
		}
	}
	return out
}

// symbol is the function of a location: "ip_error" for "ip_error+0x94".
func symbol(location string) string {
	s, _, _ := strings.Cut(location, "+")
	return s
}

func reasonAt(reason, sym string) func(explainedEvent) bool {
	return func(ev explainedEvent) bool {
		return ev.Reason == reason && (sym == "" || symbol(ev.Location) == sym)
	}
}

// ping sends one echo request from ns.
func ping(ns string, args ...string) func() {
	return func() {
		exec.Command("ip", append([]string{"netns", "exec", ns, "ping", "-c", "1", "-W", "1"}, args...)...).Run()
	}
}

// udpSend sends one datagram to addr:port from ns.
func udpSend(ns, addr string, port int) func() {
	return func() {
		exec.Command("ip", "netns", "exec", ns, "bash", "-c", fmt.Sprintf("echo x > /dev/udp/%s/%d", addr, port)).Run()
	}
}

// tcpConnect tries one connection to addr:port from ns.
func tcpConnect(ns, addr string, port int) func() {
	return func() {
		exec.Command("ip", "netns", "exec", ns, "timeout", "2", "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", addr, port)).Run()
	}
}

// pyServer runs Python in ns that binds a socket (SOCK_DGRAM or
// SOCK_STREAM, listening) to addr:port, with SO_RCVBUF rcvbuf when not 0,
// and then sleeps, never reading. It returns the socket owner's pid.
func pyServer(t *testing.T, ns, kind, addr string, port, rcvbuf int) int {
	t.Helper()
	script := fmt.Sprintf(`import socket, time
s = socket.socket(socket.AF_INET, socket.%s)
if %d: s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, %d)
s.bind(("%s", %d))
if s.type == socket.SOCK_STREAM: s.listen(1)
print("ready", flush=True)
time.sleep(600)`, kind, rcvbuf, rcvbuf, addr, port)
	return startPython(t, ns, script)
}

// startPython runs script in ns until the test ends, once it has printed
// "ready"; it returns its pid (ip netns exec execs python3).
func startPython(t *testing.T, ns, script string) int {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "python3", "-c", script)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf[:5]) != "ready" {
		t.Fatalf("python in %s did not start: %v", ns, err)
	}
	return cmd.Process.Pid
}

// newRouter is a topology whose server forwards IPv4.
func newRouter(t *testing.T) *topology {
	t.Helper()
	tp := newTopology(t)
	tp.in(t, tp.server, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	return tp
}

// sysctlIn reads a sysctl in ns, as sysctl -n prints it with its fields
// joined by one space.
func (tp *topology) sysctlIn(t *testing.T, ns, key string) string {
	t.Helper()
	return strings.Join(strings.Fields(tp.in(t, ns, "sysctl", "-n", key)), " ")
}
