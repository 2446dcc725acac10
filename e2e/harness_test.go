package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// requireRoot skips a privileged test with a loud reason, or fails it
// where a skip would hide that it did not run (CI=true).
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("end-to-end tests need root, and CI=true forbids skipping them")
	}
	t.Skip("SKIPPED: end-to-end tests need root (run `sudo make test`)")
}

// binary returns the droptrace binary under test: $DROPTRACE_BIN, as
// `make test` sets it, or one built now.
func binary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DROPTRACE_BIN"); p != "" {
		return p
	}
	out := filepath.Join(t.TempDir(), "droptrace")
	cmd := exec.Command("go", "build", "-o", out, "../cmd/droptrace")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building droptrace: %v\n%s", err, b)
	}
	return out
}

func randomID(t *testing.T) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// sh runs a command and fails the test when it fails.
func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// topology is two namespaces, client and server, joined by a veth pair,
// with IPv4 and IPv6 addresses on both ends.
type topology struct {
	client, server       string // namespace names
	clientIf, serverIf   string
	clientIP4, serverIP4 string
	clientIP6, serverIP6 string
}

func newTopology(t *testing.T) *topology {
	t.Helper()
	id := randomID(t)
	tp := &topology{
		client: "dt-c-" + id, server: "dt-s-" + id,
		clientIf: "dt" + id + "c", serverIf: "dt" + id + "s",
		clientIP4: "10.199.1.1", serverIP4: "10.199.1.2",
		clientIP6: "fd99:1::1", serverIP6: "fd99:1::2",
	}
	// Deleting a namespace removes its veth end and its iptables rules.
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", tp.client).Run()
		exec.Command("ip", "netns", "del", tp.server).Run()
	})
	sh(t, "ip", "netns", "add", tp.client)
	sh(t, "ip", "netns", "add", tp.server)
	sh(t, "ip", "link", "add", tp.clientIf, "netns", tp.client, "type", "veth", "peer", "name", tp.serverIf, "netns", tp.server)
	tp.setup(t, tp.client, tp.clientIf, tp.clientIP4, tp.clientIP6)
	tp.setup(t, tp.server, tp.serverIf, tp.serverIP4, tp.serverIP6)
	tp.waitReachable(t)
	return tp
}

// waitReachable pings the server over both families until it answers. A
// veth end that has just come up can miss the first neighbour
// solicitation, and a SYN waiting on it is retransmitted a second later:
// tests must start from a settled link, with the neighbours resolved.
func (tp *topology) waitReachable(t *testing.T) {
	t.Helper()
	for _, dst := range []string{tp.serverIP4, tp.serverIP6} {
		out, err := exec.Command("ip", "netns", "exec", tp.client, "ping", "-c", "1", "-w", "10", dst).CombinedOutput()
		if err != nil {
			t.Fatalf("%s unreachable from the client namespace: %v\n%s", dst, err, out)
		}
	}
}

func (tp *topology) setup(t *testing.T, ns, dev, ip4, ip6 string) {
	t.Helper()
	sh(t, "ip", "-n", ns, "addr", "add", ip4+"/24", "dev", dev)
	sh(t, "ip", "-n", ns, "addr", "add", ip6+"/64", "dev", dev, "nodad")
	sh(t, "ip", "-n", ns, "link", "set", dev, "up")
	sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
}

// in runs a command inside namespace ns.
func (tp *topology) in(t *testing.T, ns string, args ...string) string {
	t.Helper()
	return sh(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

// inode returns the namespace's inode, the id droptrace reports.
func inode(t *testing.T, ns string) uint64 {
	t.Helper()
	fi, err := os.Stat("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// sendUDP sends n datagrams from the client to addr:port, each from a new socket.
func (tp *topology) sendUDP(t *testing.T, addr string, port, n int) {
	t.Helper()
	script := fmt.Sprintf("for i in $(seq %d); do echo droptrace > /dev/udp/%s/%d; done", n, addr, port)
	tp.in(t, tp.client, "bash", "-c", script)
}

// connectTCP makes n connection attempts from the client; they are
// expected to fail (refused or timed out).
func (tp *topology) connectTCP(t *testing.T, addr string, port, n int) {
	t.Helper()
	script := fmt.Sprintf("for i in $(seq %d); do timeout 3 bash -c 'exec 3<>/dev/tcp/%s/%d' 2>/dev/null; done; true", n, addr, port)
	tp.in(t, tp.client, "bash", "-c", script)
}

// tracer is a running droptrace.
type tracer struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr *syncBuffer
	done   chan error
}

// startTracer starts droptrace and waits until it says it is attached.
func startTracer(t *testing.T, args ...string) *tracer {
	t.Helper()
	return startTracerWith(t, []string{binary(t)}, args...)
}

// startTracerWith starts droptrace through a wrapper command line whose
// last element is the binary.
func startTracerWith(t *testing.T, wrapper []string, args ...string) *tracer {
	t.Helper()
	argv := append(append([]string{}, wrapper...), args...)
	tr := &tracer{cmd: exec.Command(argv[0], argv[1:]...), stderr: &syncBuffer{}, done: make(chan error, 1)}
	tr.cmd.Stdout = &tr.stdout
	pipe, err := tr.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.cmd.Process.Kill() })
	ready := make(chan struct{})
	go tr.readStderr(pipe, ready)
	select {
	case <-ready:
	case err := <-tr.done:
		t.Fatalf("droptrace exited before attaching: %v\n%s", err, tr.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("droptrace did not attach within 30s\n%s", tr.stderr.String())
	}
	return tr
}

func (tr *tracer) readStderr(pipe interface{ Read([]byte) (int, error) }, ready chan struct{}) {
	sc := bufio.NewScanner(pipe)
	signalled := false
	for sc.Scan() {
		tr.stderr.WriteLine(sc.Text())
		if !signalled && (strings.Contains(sc.Text(), "tracing drops via") || strings.Contains(sc.Text(), "tracing packet paths")) {
			close(ready)
			signalled = true
		}
	}
	tr.done <- tr.cmd.Wait()
}

// stop sends SIGINT, waits for droptrace to exit, and checks it exited 0.
func (tr *tracer) stop(t *testing.T) {
	t.Helper()
	// Let the last drops travel through the ring buffer before stopping.
	time.Sleep(300 * time.Millisecond)
	tr.cmd.Process.Signal(os.Interrupt)
	tr.wait(t)
}

func (tr *tracer) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-tr.done:
		if err != nil {
			t.Fatalf("droptrace: %v\nstderr:\n%s", err, tr.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("droptrace did not exit within 20s\n%s", tr.stderr.String())
	}
}

// jsonEvent is one line of --output json.
type jsonEvent struct {
	Time       string   `json:"time"`
	Kind       string   `json:"kind"`
	Reason     string   `json:"reason"`
	ReasonCode uint32   `json:"reason_code"`
	Location   string   `json:"location"`
	Netns      uint64   `json:"netns"`
	Ifindex    uint32   `json:"ifindex"`
	Ifname     string   `json:"ifname"`
	Proto      string   `json:"proto"`
	Src        string   `json:"src"`
	Dst        string   `json:"dst"`
	Sport      uint16   `json:"sport"`
	Dport      uint16   `json:"dport"`
	Len        uint32   `json:"len"`
	CPU        uint32   `json:"cpu"`
	Skb        string   `json:"skb"`
	Func       string   `json:"func"`
	Stack      []string `json:"stack"`
}

func (tr *tracer) events(t *testing.T) []jsonEvent {
	t.Helper()
	return decodeLines[jsonEvent](t, tr.stdout.Bytes())
}

// decodeLines decodes data as one JSON value of type T a line.
func decodeLines[T any](t *testing.T, data []byte) []T {
	t.Helper()
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading JSON lines: %v", err)
	}
	return out
}

// syncBuffer collects stderr lines from the reading goroutine.
type syncBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *syncBuffer) WriteLine(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, s)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}
