package pods

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/pods/podtest"
)

// droptraceBinary is $DROPTRACE_BIN, else droptrace built for the test.
func droptraceBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("DROPTRACE_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "droptrace")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/droptrace")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building droptrace: %v\n%s", err, out)
	}
	return bin
}

// tracer is droptrace -o json running for a test; events holds what it
// printed, decoded as the tracer's event.
type tracer struct {
	mu     sync.Mutex
	events []*event.Event
	stderr strings.Builder
}

func startDroptrace(t *testing.T, bin string, args ...string) *tracer {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-o", "json"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tr := &tracer{}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	go tr.read(stdout)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			tr.mu.Lock()
			tr.stderr.WriteString(sc.Text() + "\n")
			tr.mu.Unlock()
			if strings.HasSuffix(sc.Text(), "Ctrl-C to stop") {
				ready <- sc.Text()
			}
		}
		close(ready)
	}()
	select {
	case line, ok := <-ready:
		if !ok {
			t.Fatalf("droptrace exited before attaching:\n%s", tr.stderr.String())
		}
		t.Log(line)
	case <-time.After(60 * time.Second):
		t.Fatalf("droptrace did not attach within 60s")
	}
	return tr
}

func (tr *tracer) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var j struct {
			Kind, Reason, Location, Ifname, Proto, Src, Dst string
			Netns                                           uint32
			Sport, Dport                                    uint16
		}
		if json.Unmarshal(sc.Bytes(), &j) != nil {
			continue
		}
		ev := &event.Event{Kind: event.Kind(j.Kind), Reason: j.Reason, Location: j.Location, Netns: j.Netns,
			Ifname: j.Ifname, Proto: j.Proto, Sport: j.Sport, Dport: j.Dport}
		ev.Src, _ = netip.ParseAddr(j.Src)
		ev.Dst, _ = netip.ParseAddr(j.Dst)
		tr.mu.Lock()
		tr.events = append(tr.events, ev)
		tr.mu.Unlock()
	}
}

// waitDrop waits for a drop of UDP to dport and returns it.
func (tr *tracer) waitDrop(t *testing.T, dport uint16) *event.Event {
	t.Helper()
	var got *event.Event
	podtest.WaitFor(t, fmt.Sprintf("a drop to UDP port %d", dport), 20*time.Second, func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for _, ev := range tr.events {
			if ev.Kind == event.KindDrop && ev.Proto == "udp" && ev.Dport == dport {
				got = ev
				return true
			}
		}
		return false
	})
	return got
}

func (tr *tracer) all() []*event.Event {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]*event.Event(nil), tr.events...)
}
