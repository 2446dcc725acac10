package guest

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/tracer"
	"github.com/droptrace/droptrace/tracer/attach"
)

// TestPathEnds sends UDP datagrams to a closed port with every function
// probed by kprobe-multi, filtering on the port only: each datagram is one
// path that ends at its NO_SOCKET drop, and the ICMP port-unreachable
// reply (which may reuse the freed skb's address, and is freed through the
// very functions the datagram's free runs) never joins it.
func TestPathEnds(t *testing.T) {
	requireMulti(t)
	const n = 5
	port := closedPort(t)
	p := openMulti(t, filter.Spec{Port: port})
	var (
		mu     sync.Mutex
		events []event.Event
		drops  int
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, func(ev *event.Event) error {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, *ev)
			if ev.Kind == event.KindDrop && ev.Dport == port {
				drops++
			}
			return nil
		}, nil)
	}()
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	for i := 0; i < n; i++ {
		sendOne(t, "udp4", dst)
	}
	pollUntil(eventWait, func() bool { mu.Lock(); defer mu.Unlock(); return drops >= n })
	// The ICMP replies are freed right after the drops: give their steps
	// time to arrive, so a joined one would be seen.
	time.Sleep(time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	p.Close()
	checkPathEnds(t, events, port, n)
}

// requireMulti skips a test where the kernel series has no kprobe-multi,
// and fails it outside a VM (requireVM).
func requireMulti(t *testing.T) {
	t.Helper()
	requireVM(t)
	if !wantMechanisms[kernelSeries(kernelRelease(t))]["kprobe-multi"] {
		t.Skip("SKIPPED: this kernel series has no kprobe-multi")
	}
}

// openMulti opens path tracing of the packets f matches over every
// function, with kprobe-multi; it is closed when the test ends.
func openMulti(t *testing.T, f filter.Spec) *tracer.PathTracer {
	t.Helper()
	syms := loadKallsyms(t)
	cfg := tracer.PathConfig{Filter: f, Backend: attach.BackendKprobeMulti, Decoder: newDecoder(t, syms)}
	p, err := tracer.OpenPath(context.Background(), cfg, syms)
	if err != nil {
		t.Fatalf("OpenPath: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	t.Logf("%d probes attached in %v", p.Probes(), p.AttachTime)
	return p
}

func checkPathEnds(t *testing.T, events []event.Event, port uint16, n int) {
	paths := map[string][]string{}
	ended := map[string]bool{}
	var order []string
	for _, ev := range events {
		id := ev.PathID()
		at := fmt.Sprintf("%s %s %s len %d", id, ev.Kind, ev.Func, ev.Len)
		if id == "" {
			t.Errorf("%s: no path id", at)
		}
		if ended[id] {
			t.Errorf("%s: a step after its path ended", at)
		}
		if ev.Proto == "icmp" {
			t.Errorf("%s: the ICMP reply joined a path", at)
		}
		if ev.Len >= 65536+2048 {
			t.Errorf("%s: len no live skb has: read from a freed skb", at)
		}
		if _, ok := paths[id]; !ok {
			order = append(order, id)
		}
		paths[id] = append(paths[id], ev.Func)
		if ev.Kind == event.KindDrop || ev.Kind == event.KindConsume {
			ended[id] = true
			if ev.Kind != event.KindDrop || ev.Dport != port || ev.Reason != "NO_SOCKET" {
				t.Errorf("%s (%s:%d): want each path to end in a NO_SOCKET drop to port %d", at, ev.Reason, ev.Dport, port)
			}
		}
	}
	for _, id := range order {
		t.Logf("path %s (%d steps): %s", id, len(paths[id]), strings.Join(paths[id], " > "))
		if !ended[id] {
			t.Errorf("path %s did not end", id)
		}
	}
	if len(paths) != n {
		t.Errorf("%d paths, want one per datagram: %d", len(paths), n)
	}
}
