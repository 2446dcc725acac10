package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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
	stdout *lockedBuffer
	stderr *syncBuffer
	done   chan error
}

// ready ends the line droptrace prints on stderr once every program is
// attached, in every mode.
const ready = "; Ctrl-C to stop"

// Deadlines that only end a broken run: attaching and detaching take
// seconds at most, unless the machine is very busy.
const (
	attachWait = 60 * time.Second
	exitWait   = 60 * time.Second
)

// startTracer starts droptrace and waits until it says it is attached.
func startTracer(t *testing.T, args ...string) *tracer {
	t.Helper()
	return startTracerWith(t, []string{binary(t)}, args...)
}

// startTracerWith starts droptrace through a wrapper command line whose
// last element is the binary.
func startTracerWith(t *testing.T, wrapper []string, args ...string) *tracer {
	t.Helper()
	out := &lockedBuffer{}
	tr := startTracerTo(t, out, append(append([]string{}, wrapper...), args...))
	tr.stdout = out
	return tr
}

// startTracerTo starts the command line argv, droptrace's last, with its
// stdout on w, and waits for the ready line.
func startTracerTo(t *testing.T, w io.Writer, argv []string) *tracer {
	t.Helper()
	tr := &tracer{cmd: exec.Command(argv[0], argv[1:]...), stderr: &syncBuffer{}, done: make(chan error, 1)}
	tr.cmd.Stdout = w
	pipe, err := tr.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.cmd.Process.Kill() })
	attached := make(chan struct{})
	go tr.readStderr(pipe, attached)
	select {
	case <-attached:
	case err := <-tr.done:
		t.Fatalf("droptrace exited before attaching: %v\n%s", err, tr.stderr.String())
	case <-time.After(attachWait):
		t.Fatalf("droptrace did not attach within %v\n%s", attachWait, tr.stderr.String())
	}
	return tr
}

func (tr *tracer) readStderr(pipe io.Reader, attached chan struct{}) {
	sc := bufio.NewScanner(pipe)
	signalled := false
	for sc.Scan() {
		tr.stderr.WriteLine(sc.Text())
		if !signalled && strings.HasSuffix(sc.Text(), ready) {
			close(attached)
			signalled = true
		}
	}
	tr.done <- tr.cmd.Wait()
}

// stop sends SIGINT, waits for droptrace to exit, and checks it exited 0.
// droptrace detaches, then reads what its rings still hold: every drop
// the kernel made before the signal is reported. Tests therefore wait
// for their drops to have happened (a rule counter, a kernel counter, the
// events written) before they stop it.
func (tr *tracer) stop(t *testing.T) {
	t.Helper()
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
	case <-time.After(exitWait):
		t.Fatalf("droptrace did not exit within %v\n%s", exitWait, tr.stderr.String())
	}
}

// waitLines waits until droptrace has written n whole lines to stdout. A
// droptrace that writes fewer is left to the test's own checks, which say
// more than a timeout would: it only logs.
func (tr *tracer) waitLines(t *testing.T, n int) {
	t.Helper()
	tr.waitOutput(t, fmt.Sprintf("%d lines", n), func(out []byte) error {
		return atLeast(uint64(bytes.Count(out, []byte("\n"))), uint64(n))
	})
}

// waitOutput waits until check accepts the whole lines droptrace has
// written so far; on timeout it logs, for the test's checks to fail with
// everything droptrace wrote.
func (tr *tracer) waitOutput(t *testing.T, what string, check func(out []byte) error) {
	t.Helper()
	err := poll(settle, func() error { return check(tr.stdout.Lines()) })
	if err != nil {
		t.Logf("droptrace's output after %v, waiting for %s: %v", settle, what, err)
	}
}

// waitEvents waits until n of the JSON events written so far match.
func (tr *tracer) waitEvents(t *testing.T, what string, n int, match func(jsonEvent) bool) {
	t.Helper()
	tr.waitOutput(t, what, func(out []byte) error {
		got := 0
		for _, ev := range decodeLines[jsonEvent](t, out) {
			if match(ev) {
				got++
			}
		}
		return atLeast(uint64(got), uint64(n))
	})
}

// exitCountsRe is droptrace's exit line: what is "drops", "path events"
// or "TCP events".
var exitCountsRe = regexp.MustCompile(`(\d+) ([a-zA-Z ]+) reported, (\d+) matched in the kernel, (\d+) events lost`)

// exitCounts returns the counts of droptrace's exit line for what
// ("drops", "path events"): reported, matched in the kernel and lost.
func exitCounts(t *testing.T, stderr, what string) (reported, matched, lost uint64) {
	t.Helper()
	for _, m := range exitCountsRe.FindAllStringSubmatch(stderr, -1) {
		if m[2] != what {
			continue
		}
		reported, _ = strconv.ParseUint(m[1], 10, 64)
		matched, _ = strconv.ParseUint(m[3], 10, 64)
		lost, _ = strconv.ParseUint(m[4], 10, 64)
		return reported, matched, lost
	}
	t.Fatalf("no exit line for %s on stderr:\n%s", what, stderr)
	return 0, 0, 0
}

// jsonEvent is one line of --output json.
type jsonEvent struct {
	Time       string   `json:"time"`
	Kind       string   `json:"kind"`
	Reason     string   `json:"reason"`
	ReasonCode uint32   `json:"reason_code"`
	Location   string   `json:"location"`
	Netns      uint64   `json:"netns"`
	NetnsName  string   `json:"netns_name"`
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
	Path       string   `json:"path"`
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

// lockedBuffer is droptrace's stdout, written by exec's copying goroutine
// while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of everything written.
func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// Lines returns a copy of the whole lines written, without a last one
// still being written.
func (b *lockedBuffer) Lines() []byte {
	out := b.Bytes()
	return out[:bytes.LastIndexByte(out, '\n')+1]
}

func (b *lockedBuffer) String() string { return string(b.Bytes()) }

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
