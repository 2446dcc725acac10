package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// topology is a client and a server namespace joined by a veth pair. The
// server drops the storm's 64-byte UDP datagrams with an iptables rule and
// runs iperf3 for the TCP rows.
type topology struct {
	client, server string
	clientIP       string
	serverIP       string
	serverDev      string // the server's end of the veth pair
}

const (
	stormPort = 5201
	// stormLen is the IP length of a 64-byte UDP datagram: iperf3's own
	// control and 4-byte UDP handshake on the same port are not dropped.
	stormLen = 20 + 8 + 64
)

func newTopology() (*topology, error) {
	id := strconv.Itoa(os.Getpid())
	tp := &topology{client: "dtb-c-" + id, server: "dtb-s-" + id, clientIP: "10.197.1.1", serverIP: "10.197.1.2", serverDev: "dtbs" + id}
	cmds := [][]string{
		{"ip", "netns", "add", tp.client},
		{"ip", "netns", "add", tp.server},
		{"ip", "link", "add", "dtbc" + id, "netns", tp.client, "type", "veth", "peer", "name", "dtbs" + id, "netns", tp.server},
		{"ip", "-n", tp.client, "addr", "add", tp.clientIP + "/24", "dev", "dtbc" + id},
		{"ip", "-n", tp.server, "addr", "add", tp.serverIP + "/24", "dev", "dtbs" + id},
		{"ip", "-n", tp.client, "link", "set", "dtbc" + id, "up"},
		{"ip", "-n", tp.server, "link", "set", "dtbs" + id, "up"},
		{"ip", "-n", tp.client, "link", "set", "lo", "up"},
		{"ip", "-n", tp.server, "link", "set", "lo", "up"},
		{"ip", "netns", "exec", tp.server, "iptables", "-A", "INPUT", "-p", "udp", "--dport", strconv.Itoa(stormPort),
			"-m", "length", "--length", strconv.Itoa(stormLen), "-j", "DROP"},
	}
	for _, c := range cmds {
		if _, err := sh(c[0], c[1:]...); err != nil {
			tp.close()
			return nil, err
		}
	}
	return tp, nil
}

func (tp *topology) close() {
	exec.Command("ip", "netns", "del", tp.client).Run()
	exec.Command("ip", "netns", "del", tp.server).Run()
}

// dropped reads the packet counter of the storm's DROP rule.
func (tp *topology) dropped() (uint64, error) {
	out, err := sh("ip", "netns", "exec", tp.server, "iptables", "-nvxL", "INPUT")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[2] == "DROP" {
			return strconv.ParseUint(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no DROP rule in %s:\n%s", tp.server, out)
}
