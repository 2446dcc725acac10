package explain

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestTCPAbortOnDataScenario: the server's application closes a
// connection, the client keeps sending, and the server's TCP rejects the
// data with a reset. On 6.18 the closed end has become a time-wait socket
// by then, and the drop reads NOT_SPECIFIED at tcp_v4_rcv (a full socket
// would say TCP_ABORT_ON_DATA); the explanation says what TCP rejected
// and which socket was left, checked against ss.
func TestTCPAbortOnDataScenario(t *testing.T) {
	requireRoot(t)
	p := newPair(t, "10.231.9")
	server := `import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9030)); s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept(); c.close()`
	cmd := exec.Command("ip", "netns", "exec", p.server, "python3", "-c", server)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if _, err := out.Read(make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	tr := startTracer(t, p.server)
	client := fmt.Sprintf(`import socket, time
c = socket.create_connection(("%s", 9030)); time.sleep(0.2)
try:
    c.sendall(b"x" * 100); time.sleep(0.2); c.sendall(b"y" * 100)
except OSError: pass`, p.serverIP)
	send := func() { exec.Command("ip", "netns", "exec", p.client, "python3", "-c", client).Run() }
	ev := tr.await(t, 10*time.Second, send, func(j jsonEvent) bool {
		return j.Dport == 9030 && (j.Reason == "TCP_ABORT_ON_DATA" || reasonAt("NOT_SPECIFIED", "tcp_v4_rcv")(j))
	})
	x := explain(t, ev)
	if !strings.Contains(x.Cause, "closed") {
		t.Errorf("cause %q does not say the connection was closed", x.Cause)
	}
	if got := value(t, x, "tcp_state_at_drop"); got != orNone(ev.TCPState) {
		t.Errorf("tcp_state_at_drop %q, the drop's tcp_state %q", got, ev.TCPState)
	}
	// The reset destroyed the server's end: ss has no socket of that
	// connection left but the listener, and neither does the evidence.
	ss := in(t, p.server, "ss", "-tanH", fmt.Sprintf("sport = :9030 and dport = :%d", ev.Sport))
	if strings.TrimSpace(ss) != "" || value(t, x, "socket") != "none now" {
		t.Errorf("socket evidence %q, ss -tan says %q", value(t, x, "socket"), ss)
	}
	lst := in(t, p.server, "ss", "-ltnH", "sport = :9030") // LISTEN 0 8 0.0.0.0:9030 0.0.0.0:*
	if got := values(x, "listener"); len(got) != 1 || !strings.HasPrefix(got[0], "tcp 0.0.0.0:9030 pid ") || !strings.Contains(lst, "0.0.0.0:9030") {
		t.Errorf("listener evidence %q, ss -ltn says %q", got, lst)
	}
}
