package e2e

import (
	"net"
	"testing"
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
