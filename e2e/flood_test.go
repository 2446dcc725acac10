package e2e

import (
	"fmt"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// floodUDP sends n datagrams as fast as it can from inside namespace ns.
// The socket is made on a thread moved into ns, so it lives there.
func floodUDP(t *testing.T, ns, addr string, port, n int) {
	t.Helper()
	if err := runInNetns(ns, func() error { return flood(addr, port, n) }); err != nil {
		t.Fatalf("flooding %s:%d from %s: %v", addr, port, ns, err)
	}
}

// flood sends n datagrams to addr:port from the calling thread's namespace.
func flood(addr string, port, n int) error {
	conn, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.ParseIP(addr), Port: port})
	if err != nil {
		return err
	}
	defer conn.Close()
	payload := []byte("droptrace flood")
	for i := 0; i < n; i++ {
		if _, err := conn.Write(payload); err != nil {
			return err
		}
	}
	return nil
}

// floodUDPOneCPU is floodUDP from a thread held on one CPU, so that every
// drop lands in that CPU's ring: a sender that moves between CPUs spreads
// its events over several rings, which together may hold them all.
func floodUDPOneCPU(t *testing.T, ns, addr string, port, n int) {
	t.Helper()
	err := runInNetns(ns, func() error {
		if err := pinThread(0); err != nil {
			return err
		}
		return flood(addr, port, n)
	})
	if err != nil {
		t.Fatalf("flooding %s:%d from %s on CPU 0: %v", addr, port, ns, err)
	}
}

// pinThread holds the calling thread (locked to its goroutine, as
// runInNetns's is) on one CPU, so that the drops it makes land in that
// CPU's ring.
func pinThread(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pinning to CPU %d: %w", cpu, err)
	}
	return nil
}
