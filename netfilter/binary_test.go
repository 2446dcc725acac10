package netfilter

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/netfilter/nftest"
)

// droptraceBinary is $DROPTRACE_BIN (make build), or one built now.
func droptraceBinary(t *testing.T) string {
	if p := os.Getenv("DROPTRACE_BIN"); p != "" {
		return p
	}
	out := filepath.Join(t.TempDir(), "droptrace")
	if b, err := exec.Command("go", "build", "-o", out, "../cmd/droptrace").CombinedOutput(); err != nil {
		t.Fatalf("building droptrace: %v\n%s", err, b)
	}
	return out
}

// jsonDrop is the part of droptrace's JSON event the annotator reads.
type jsonDrop struct {
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
	Netns  uint32    `json:"netns"`
	Ifname string    `json:"ifname"`
	Proto  string    `json:"proto"`
	Src    string    `json:"src"`
	Dst    string    `json:"dst"`
	Sport  uint16    `json:"sport"`
	Dport  uint16    `json:"dport"`
}

func (j jsonDrop) event() *event.Event {
	ev := &event.Event{Time: j.Time, Kind: event.KindDrop, Reason: j.Reason, Netns: j.Netns, Ifname: j.Ifname,
		Proto: j.Proto, Sport: j.Sport, Dport: j.Dport}
	ev.Src, _ = netip.ParseAddr(j.Src)
	ev.Dst, _ = netip.ParseAddr(j.Dst)
	return ev
}

// startDroptrace runs droptrace -o json on ns's drops and returns its
// events as they come.
func startDroptrace(t *testing.T, ns string) <-chan jsonDrop {
	cmd := exec.Command(droptraceBinary(t), "-o", "json", "--filter-netns", ns, "--filter-reason", "NETFILTER_DROP")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var seen []string
		for sc.Scan() {
			seen = append(seen, sc.Text())
			if strings.HasSuffix(sc.Text(), "Ctrl-C to stop") {
				ready <- ""
			}
		}
		ready <- strings.Join(seen, "\n")
	}()
	events := make(chan jsonDrop, 1024)
	go func() {
		dec := json.NewDecoder(stdout)
		for {
			var j jsonDrop
			if dec.Decode(&j) != nil {
				close(events)
				return
			}
			events <- j
		}
	}()
	select {
	case msg := <-ready:
		if msg != "" {
			t.Fatalf("droptrace exited before it was ready:\n%s", msg)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("droptrace not ready within 60s")
	}
	return events
}

// waitDrop returns the first event of the probe's packet, skipping others.
func waitDrop(t *testing.T, events <-chan jsonDrop, p nftest.Probe) *event.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case j, ok := <-events:
			if !ok {
				t.Fatal("droptrace exited")
			}
			if j.Sport == p.Sport && j.Dport == p.Dport && j.Proto == p.Proto {
				return j.event()
			}
			t.Logf("other drop: %+v", j)
		case <-timeout:
			t.Fatalf("no drop event for %s %s:%d -> %s:%d", p.Proto, p.Src, p.Sport, p.Dst, p.Dport)
		}
	}
}

// TestDroptraceEvents attributes the real events droptrace reports for
// the iptables drops, as the run loop will.
func TestDroptraceEvents(t *testing.T) {
	requireRoot(t)
	tp := nftest.NewTopo(t)
	nftest.AddIptablesRules(t, tp)
	nftest.KeepRuleset(t, tp.Router)
	events := startDroptrace(t, tp.Router)
	a := testAnnotator(t)
	if err := a.Prime(nftest.Inode(t, tp.Router)); err != nil {
		t.Fatal(err)
	}
	probes := nftest.IptablesProbes(tp)
	oracle := nftest.NewOracle(t, tp, probes)
	for _, p := range probes {
		p.Send(t)
		ev := waitDrop(t, events, p)
		a.Annotate(ev)
		nftest.Check(t, p, ev.Netfilter, oracle, "counter")
		if ev.Ifname != p.DropIf {
			t.Logf("%s: droptrace reports ifname %q", p.Name(), ev.Ifname)
		}
	}
	t.Logf("stats: %+v", a.Stats())
}
