package guest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// requireVM skips the test outside the vmtest VM and fails it inside one
// when it is not root, because there a skip would hide that it did not run.
func requireVM(t *testing.T) {
	t.Helper()
	if os.Getenv("DROPTRACE_VM") != "1" {
		t.Skip("SKIPPED: guest tests run only inside the vmtest VM (DROPTRACE_VM=1); run `bash vmtest/run.sh`")
	}
	if os.Geteuid() != 0 {
		t.Fatal("guest tests need root, and DROPTRACE_VM=1 forbids skipping them")
	}
}

// kernelRelease returns uname -r, e.g. "6.1.0-56-amd64".
func kernelRelease(t *testing.T) string {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatalf("uname: %v", err)
	}
	return unix.ByteSliceToString(u.Release[:])
}

// kernelSeries returns the major.minor of a release, prefixed with arm64-
// for Debian's arm64 kernels as in vmtest/run.sh's --kernels:
// "6.1.0-56-amd64" -> "6.1", "6.12.117+deb12-arm64" -> "arm64-6.12".
func kernelSeries(release string) string {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return release
	}
	minor, _, _ := strings.Cut(parts[1], "-")
	series := parts[0] + "." + minor
	if strings.HasSuffix(release, "-arm64") {
		return "arm64-" + series
	}
	return series
}

// sendDatagram sends one UDP datagram to dst from a new unconnected
// socket and returns its source. Unconnected, because a connected socket
// would turn the ICMP port unreachable for one datagram into an error on
// the next send.
func sendDatagram(network string, dst netip.AddrPort) (netip.AddrPort, error) {
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst.Addr(), 0)))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("opening %s socket: %w", network, err)
	}
	defer c.Close()
	if _, err := c.WriteToUDPAddrPort([]byte("droptrace vmtest"), dst); err != nil {
		return netip.AddrPort{}, fmt.Errorf("sending to %s: %w", dst, err)
	}
	src := c.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), nil
}
