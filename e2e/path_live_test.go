package e2e

import (
	"fmt"
	"testing"

	"github.com/cilium/ebpf"
)

// TestTracePathLiveClears checks the flag that lets every follow probe
// return after one load while no path is live (bpf/paths.h): clear
// before anything matched, set while datagrams' paths run (each shows
// its receive in the server's namespace, where no filter matches it and
// only a follow of the live path reports it), and clear again once every
// path ended at its drop, read from the running droptrace's own map.
func TestTracePathLiveClears(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	tr := startTracer(t, "--trace", "--output", "json", "--filter-netns", tp.client, "--filter-dst-ip", tp.serverIP4)
	live := liveFlag(t, tr.cmd.Process.Pid)
	if v := readFlag(t, live); v != 0 {
		t.Errorf("live is %d before any packet matched, want 0", v)
	}
	const n = 10
	tp.sendUDP(t, tp.serverIP4, dropPort, n)
	tp.waitRule(t, "iptables", n, "udp", fmt.Sprintf("dpt:%d", dropPort))
	tr.waitEvents(t, "the DROP rule's drops", n, func(ev jsonEvent) bool {
		return ev.Kind == "drop" && ev.Dport == dropPort
	})
	if v := readFlag(t, live); v != 0 {
		t.Errorf("live is %d after every path ended at its drop, want 0", v)
	}
	tr.stop(t)
	received := map[string]bool{}
	evs := tr.events(t)
	for _, ev := range evs {
		if ev.Func == "tp:netif_receive_skb" {
			received[ev.Path] = true
		}
	}
	for _, ev := range evs {
		if ev.Kind == "drop" && ev.Dport == dropPort && !received[ev.Path] {
			t.Errorf("path %s ends in a drop with no tp:netif_receive_skb step before it: live was not set while it ran", ev.Path)
		}
	}
}

// liveFlag returns the `live` section map (.data.live) of the droptrace
// process pid, found through the map ids of its file descriptors: other
// droptrace runs on the machine have one of their own.
func liveFlag(t *testing.T, pid int) *ebpf.Map {
	t.Helper()
	for _, id := range fdinfoIDs(pid)["map_id"] {
		m, err := ebpf.NewMapFromID(ebpf.MapID(id))
		if err != nil {
			continue
		}
		if info, err := m.Info(); err == nil && info.Name == ".data.live" {
			t.Cleanup(func() { m.Close() })
			return m
		}
		m.Close()
	}
	t.Fatalf("droptrace (pid %d) holds no .data.live map", pid)
	return nil
}

func readFlag(t *testing.T, m *ebpf.Map) uint64 {
	t.Helper()
	var v uint64
	if err := m.Lookup(uint32(0), &v); err != nil {
		t.Fatalf("reading .data.live: %v", err)
	}
	return v
}
