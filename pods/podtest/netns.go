package podtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// NetnsPath is /proc/PID/ns/net of a process in namespace ino.
func NetnsPath(t testing.TB, ino uint32) string {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		if _, err := strconv.Atoi(filepath.Base(dir)); err != nil {
			continue
		}
		if l, err := os.Readlink(dir + "/ns/net"); err == nil && l == fmt.Sprintf("net:[%d]", ino) {
			return dir + "/ns/net"
		}
	}
	t.Fatalf("no process in netns %d", ino)
	return ""
}

// DropIn sends a UDP datagram to a closed port on the loopback of the
// namespace netnsPath opens: the kernel drops it (NO_SOCKET).
func DropIn(t testing.TB, netnsPath string, dport uint16) {
	t.Helper()
	Run(t, "nsenter", "--net="+netnsPath, "bash", "-c", fmt.Sprintf("echo drop > /dev/udp/127.0.0.1/%d", dport))
}
