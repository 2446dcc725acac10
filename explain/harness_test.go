package explain

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/nsfs"
)

// requireRoot skips a scenario that needs root, loudly (fails under CI=true).
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "scenarios need root: they make real drops in namespaces")
	}
}

func randomID(t *testing.T) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// in runs a command in namespace ns.
func in(t *testing.T, ns string, args ...string) string {
	t.Helper()
	return sh(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

// pair is two namespaces joined by a veth pair, with IPv4 addresses.
type pair struct {
	client, server       string
	clientIf, serverIf   string
	clientIP, serverIP   string
	clientIP6, serverIP6 string
}

func newPair(t *testing.T, subnet string) *pair {
	t.Helper()
	id := randomID(t)
	p := &pair{client: "xc-" + id, server: "xs-" + id, clientIf: "xc" + id, serverIf: "xs" + id,
		clientIP: subnet + ".1", serverIP: subnet + ".2"}
	v6 := "fd31:" + subnet[strings.LastIndex(subnet, ".")+1:] + "::"
	p.clientIP6, p.serverIP6 = v6+"1", v6+"2"
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", p.client).Run()
		exec.Command("ip", "netns", "del", p.server).Run()
	})
	sh(t, "ip", "netns", "add", p.client)
	sh(t, "ip", "netns", "add", p.server)
	sh(t, "ip", "link", "add", p.clientIf, "netns", p.client, "type", "veth", "peer", "name", p.serverIf, "netns", p.server)
	for _, end := range []struct{ ns, dev, ip, ip6 string }{{p.client, p.clientIf, p.clientIP, p.clientIP6}, {p.server, p.serverIf, p.serverIP, p.serverIP6}} {
		sh(t, "ip", "-n", end.ns, "addr", "add", end.ip+"/24", "dev", end.dev)
		sh(t, "ip", "-n", end.ns, "addr", "add", end.ip6+"/64", "dev", end.dev, "nodad")
		sh(t, "ip", "-n", end.ns, "link", "set", end.dev, "up")
		sh(t, "ip", "-n", end.ns, "link", "set", "lo", "up")
	}
	for _, dst := range []string{p.serverIP, p.serverIP6} {
		if out, err := exec.Command("ip", "netns", "exec", p.client, "ping", "-c", "1", "-w", "10", dst).CombinedOutput(); err != nil {
			t.Fatalf("%s unreachable: %v\n%s", dst, err, out)
		}
	}
	return p
}

func netnsInode(t *testing.T, ns string) uint32 {
	t.Helper()
	fi, err := os.Stat("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(fi.Sys().(*syscall.Stat_t).Ino)
}

// background starts a long-running command in ns and kills it at the end.
func background(t *testing.T, ns string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// droptraceBin is the droptrace under test: $DROPTRACE_BIN, else one built now.
func droptraceBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DROPTRACE_BIN"); p != "" {
		return p
	}
	out := filepath.Join(t.TempDir(), "droptrace")
	if b, err := exec.Command("go", "build", "-o", out, "../cmd/droptrace").CombinedOutput(); err != nil {
		t.Fatalf("building droptrace: %v\n%s", err, b)
	}
	return out
}

// jsonEvent is a line of droptrace -o json, as the real binary prints it.
type jsonEvent struct {
	Kind       string `json:"kind"`
	Reason     string `json:"reason"`
	ReasonCode uint32 `json:"reason_code"`
	Location   string `json:"location"`
	Netns      uint32 `json:"netns"`
	Ifindex    uint32 `json:"ifindex"`
	Ifname     string `json:"ifname"`
	Proto      string `json:"proto"`
	Src        string `json:"src"`
	Dst        string `json:"dst"`
	Sport      uint16 `json:"sport"`
	Dport      uint16 `json:"dport"`
	Len        uint32 `json:"len"`
	TCPState   string `json:"tcp_state"`
	SockCookie uint64 `json:"sock_cookie"`
}

// toEvent is the event the tracer decoded, as far as JSON carries it.
func (j jsonEvent) toEvent() *event.Event {
	ev := &event.Event{Kind: event.Kind(j.Kind), Reason: j.Reason, ReasonCode: j.ReasonCode, Location: j.Location,
		Netns: j.Netns, Ifindex: j.Ifindex, Ifname: j.Ifname, Proto: j.Proto, Sport: j.Sport, Dport: j.Dport,
		Len: j.Len, TCPState: j.TCPState, SockCookie: j.SockCookie}
	ev.Src, _ = netip.ParseAddr(j.Src)
	ev.Dst, _ = netip.ParseAddr(j.Dst)
	return ev
}

// tracer is the real droptrace, run on one namespace, its events streamed.
type tracer struct {
	events chan jsonEvent
	mu     sync.Mutex
	seen   []string
}

func startTracer(t *testing.T, ns string) *tracer {
	t.Helper()
	return startTracerArgs(t, "--filter-netns", ns)
}

// startTracerArgs runs droptrace -o json with other filters. Routine
// frees are shown: the package decides what is routine, not the binary.
func startTracerArgs(t *testing.T, filters ...string) *tracer {
	t.Helper()
	cmd := exec.Command(droptraceBin(t), append([]string{"-o", "json", "--show-routine"}, filters...)...)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	ready := make(chan string, 1)
	go waitReady(stderr, ready)
	select {
	case line := <-ready:
		if line == "" {
			t.Fatal("droptrace exited before it was ready")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("droptrace not ready within 30s")
	}
	tr := &tracer{events: make(chan jsonEvent, 4096)}
	go tr.read(stdout)
	return tr
}

func waitReady(stderr io.Reader, ready chan<- string) {
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.HasSuffix(sc.Text(), "Ctrl-C to stop") {
			ready <- sc.Text()
			io.Copy(io.Discard, stderr)
			return
		}
	}
	ready <- ""
}

func (tr *tracer) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var j jsonEvent
		if json.Unmarshal(sc.Bytes(), &j) == nil {
			tr.mu.Lock()
			tr.seen = append(tr.seen, fmt.Sprintf("%s %s %s:%d>%s:%d %s", j.Reason, j.Location, j.Src, j.Sport, j.Dst, j.Dport, j.TCPState))
			tr.mu.Unlock()
			tr.events <- j
		}
	}
	close(tr.events)
}

// await returns the first drop for which match holds, failing after
// timeout, while act (when not nil) is repeated every second to make it.
func (tr *tracer) await(t *testing.T, timeout time.Duration, act func(), match func(jsonEvent) bool) *event.Event {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	if act != nil {
		act()
	}
	for {
		select {
		case j, ok := <-tr.events:
			if !ok {
				t.Fatal("droptrace stopped")
			}
			if j.Kind == "drop" && match(j) {
				return j.toEvent()
			}
		case <-tick.C:
			if act != nil {
				act()
			}
		case <-deadline:
			tr.mu.Lock()
			defer tr.mu.Unlock()
			t.Fatalf("no matching drop within %v; saw %q", timeout, tr.seen)
		}
	}
}

func reasonAt(reason, symbol string) func(jsonEvent) bool {
	return func(j jsonEvent) bool {
		return j.Reason == reason && (symbol == "" || Symbol(j.Location) == symbol)
	}
}

// explain annotates ev with a fresh Explainer, as droptrace's worker would.
func explain(t *testing.T, ev *event.Event) *event.Explain {
	t.Helper()
	x := New(nsfs.NewIndex(), DefaultConfig())
	t.Cleanup(x.Close)
	x.Annotate(ev)
	if ev.Explain == nil {
		t.Fatal("no explanation")
	}
	t.Logf("%s at %s: cause: %s; evidence: %v; fix: %s", ev.Reason, ev.Location, ev.Explain.Cause, ev.Explain.Evidence, ev.Explain.Fix)
	if st := x.Stats(); st.Failed != 0 {
		t.Errorf("look-up failed: %+v", st)
	}
	return ev.Explain
}

// value returns the evidence under key, failing when there is none.
func value(t *testing.T, x *event.Explain, key string) string {
	t.Helper()
	for _, e := range x.Evidence {
		if e.Key == key {
			return e.Value
		}
	}
	t.Fatalf("no evidence %q in %v", key, x.Evidence)
	return ""
}

func values(x *event.Explain, key string) []string {
	var out []string
	for _, e := range x.Evidence {
		if e.Key == key {
			out = append(out, e.Value)
		}
	}
	return out
}
