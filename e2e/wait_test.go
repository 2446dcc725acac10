package e2e

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tests synchronize on conditions, never on sleeps: droptrace's ready
// line, a rule counter or a kernel counter that moved, a line written.
// The deadlines are there only so that a broken run ends; they are long
// enough for a 2-core machine shared with other work.
const (
	pollEvery = 20 * time.Millisecond
	settle    = 30 * time.Second // for the kernel to act on what a test sent
)

// waitFor polls check until it returns nil, and fails the test, saying
// what it waited for and the last state check saw, once timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, check func() error) {
	t.Helper()
	if err := poll(timeout, check); err != nil {
		t.Fatalf("waited %v for %s: %v", timeout, what, err)
	}
}

// poll calls check every pollEvery until it returns nil or timeout
// passes; it returns check's last error.
func poll(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		<-tick.C
	}
}

// atLeast is a check that n has reached want.
func atLeast(n, want uint64) error {
	if n >= want {
		return nil
	}
	return fmt.Errorf("%d of %d", n, want)
}

// ruleCount sums the packets matched by the INPUT rules of namespace ns
// whose `<ipt> -L INPUT -v -x -n` line has every one of words as a field
// (e.g. "udp", "dpt:7002"). iptables is the oracle here, not droptrace.
func (tp *topology) ruleCount(t *testing.T, ns, ipt string, words ...string) uint64 {
	t.Helper()
	var sum uint64
	for _, line := range strings.Split(tp.in(t, ns, ipt, "-L", "INPUT", "-v", "-x", "-n"), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !hasAll(fields, words) {
			continue
		}
		n, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			t.Fatalf("%s -L INPUT: line %q does not start with a packet count", ipt, line)
		}
		sum += n
	}
	return sum
}

func hasAll(fields, words []string) bool {
	for _, w := range words {
		if !slices.Contains(fields, w) {
			return false
		}
	}
	return true
}

// waitRule waits until the INPUT rules of the server namespace matching
// words have matched want packets.
func (tp *topology) waitRule(t *testing.T, ipt string, want uint64, words ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s rule %v in %s to match %d packets", ipt, words, tp.server, want), settle, func() error {
		return atLeast(tp.ruleCount(t, tp.server, ipt, words...), want)
	})
}

// noPorts returns the UDP datagrams namespace ns dropped for want of a
// socket (NoPorts in /proc/net/snmp, Udp6NoPorts in /proc/net/snmp6).
func noPorts(t *testing.T, ns string, ipv6 bool) uint64 {
	t.Helper()
	file, key := "snmp", "Udp:"
	if ipv6 {
		file, key = "snmp6", "Udp6NoPorts"
	}
	var n uint64
	err := runInNetns(ns, func() error {
		// thread-self: /proc/net follows the main thread's namespace.
		b, err := os.ReadFile("/proc/thread-self/net/" + file)
		if err != nil {
			return err
		}
		n, err = parseNoPorts(string(b), key)
		return err
	})
	if err != nil {
		t.Fatalf("reading NoPorts in %s: %v", ns, err)
	}
	return n
}

// parseNoPorts finds the UDP NoPorts counter: in snmp a header line and a
// value line that both start with "Udp:", in snmp6 one "Udp6NoPorts N".
func parseNoPorts(s, key string) (uint64, error) {
	var header []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == key:
			return strconv.ParseUint(f[1], 10, 64)
		case len(f) > 1 && f[0] == key && header == nil:
			header = f
		case len(f) == len(header) && f[0] == key:
			if i := slices.Index(header, "NoPorts"); i > 0 {
				return strconv.ParseUint(f[i], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no %s NoPorts counter", key)
}

// waitNoPorts waits until the server namespace has dropped want UDP
// datagrams of the family for want of a socket.
func (tp *topology) waitNoPorts(t *testing.T, ipv6 bool, want uint64) {
	t.Helper()
	family := "IPv4"
	if ipv6 {
		family = "IPv6"
	}
	waitFor(t, fmt.Sprintf("%d %s datagrams to closed ports dropped in %s", want, family, tp.server), settle, func() error {
		return atLeast(noPorts(t, tp.server, ipv6), want)
	})
}
