package e2e

import (
	"net"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// floodUDP sends n datagrams as fast as it can from inside namespace ns.
// The socket is made on a thread moved into ns, so it lives there.
func floodUDP(t *testing.T, ns, addr string, port, n int) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: it ends with the goroutine rather
		// than going back to the pool in the wrong namespace.
		runtime.LockOSThread()
		errc <- floodFrom(ns, addr, port, n)
	}()
	if err := <-errc; err != nil {
		t.Fatalf("flooding %s:%d from %s: %v", addr, port, ns, err)
	}
}

func floodFrom(ns, addr string, port, n int) error {
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return err
	}
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
