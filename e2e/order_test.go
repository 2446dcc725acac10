package e2e

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestEventsInTimeOrderAcrossCPUs floods a port the server's iptables
// drops from two threads, each pinned to its own CPU: the drops land in
// two per-CPU rings, and droptrace must report every one of them once,
// merged in time order.
func TestEventsInTimeOrderAcrossCPUs(t *testing.T) {
	requireRoot(t)
	if runtime.NumCPU() < 2 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs 2 CPUs to drop on two at once, and CI=true forbids skipping")
		}
		t.Skip("SKIPPED LOUDLY: needs 2 CPUs to drop on two at once")
	}
	tp := newTopology(t)
	const port, perCPU = 40123, 3000
	tp.in(t, tp.server, "iptables", "-A", "INPUT", "-p", "udp", "--dport", strconv.Itoa(port), "-j", "DROP")
	tr := startTracer(t, "--output", "json", "--filter-netns", tp.server,
		"--filter-proto", "udp", "--filter-port", strconv.Itoa(port))
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for cpu := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- runInNetns(tp.client, func() error {
				if err := pinThread(cpu); err != nil {
					return err
				}
				return flood(tp.serverIP4, port, perCPU)
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	tp.waitRule(t, "iptables", 2*perCPU, "udp", "dpt:"+strconv.Itoa(port))
	tr.waitLines(t, 2*perCPU)
	tr.stop(t)
	evs := tr.events(t)
	if len(evs) != 2*perCPU {
		t.Fatalf("%d events for %d datagrams dropped\n%s", len(evs), 2*perCPU, tr.stderr.String())
	}
	cpus := map[uint32]int{}
	var prev time.Time
	for i, ev := range evs {
		at, err := time.Parse(time.RFC3339Nano, ev.Time)
		if err != nil {
			t.Fatalf("event %d: time %q: %v", i, ev.Time, err)
		}
		if at.Before(prev) {
			t.Fatalf("event %d at %s (CPU %d) comes after one at %s: not in time order", i, ev.Time, ev.CPU, prev.Format(time.RFC3339Nano))
		}
		prev = at
		cpus[ev.CPU]++
		if ev.Reason != "NETFILTER_DROP" || ev.Dport != port {
			t.Fatalf("event %d: reason %s, port %d; want NETFILTER_DROP, %d", i, ev.Reason, ev.Dport, port)
		}
	}
	if len(cpus) < 2 {
		t.Fatalf("all drops on one CPU (%v): the senders were not spread", cpus)
	}
	t.Logf("%d drops in time order, per CPU %v", len(evs), cpus)
}
