package explain

import (
	"fmt"
	"os/exec"
	"testing"
	"time"
)

// TestRoutineScenario makes the frees a quiet host sees all the time,
// IPv6 multicast for a group nobody joined and a socket closed with
// unread datagrams, and checks that Routine hides each of them and that
// they are all the namespace saw.
func TestRoutineScenario(t *testing.T) {
	requireRoot(t)
	p := newPair(t, "10.231.10")
	tr := startTracer(t, p.server)
	// All-routers multicast: the server is no router, so it has not joined.
	mcast := ping(p.client, "-6", "ff02::2%"+p.clientIf)
	ev := tr.await(t, 10*time.Second, mcast, reasonAt("NOT_SPECIFIED", "ip6_mc_input"))
	if !Routine(ev) {
		t.Errorf("multicast not for us at ip6_mc_input is not routine: %+v", ev)
	}

	// Datagrams freed with their socket have no device, and droptrace
	// reports no namespace for them (netns 0): this part filters on a port
	// of its own instead.
	port := 20000 + int(netnsInode(t, p.server)%20000)
	trPort := startTracerArgs(t, "--filter-port", fmt.Sprint(port), "--filter-proto", "udp")
	closeUnread := func() {
		script := `import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", %d))
print("ready", flush=True); time.sleep(1); s.close()`
		script = fmt.Sprintf(script, port)
		cmd := exec.Command("ip", "netns", "exec", p.server, "python3", "-c", script)
		out, _ := cmd.StdoutPipe()
		if cmd.Start() != nil {
			return
		}
		out.Read(make([]byte, 5))
		exec.Command("ip", "netns", "exec", p.client, "bash", "-c",
			fmt.Sprintf("for i in 1 2 3; do echo unread > /dev/udp/%s/%d; done", p.serverIP, port)).Run()
		cmd.Wait()
	}
	ev = trPort.await(t, 15*time.Second, closeUnread, func(j jsonEvent) bool { return j.Reason != "NO_SOCKET" })
	t.Logf("closed with unread datagrams: %s at %s", ev.Reason, ev.Location)
	if !Routine(ev) {
		t.Errorf("datagrams left unread in a closed socket are not routine: %s at %s", ev.Reason, ev.Location)
	}
	// Whatever else the namespace saw in the meantime must be routine too.
	deadline := time.After(2 * time.Second)
	for {
		select {
		case j := <-tr.events:
			if e := j.toEvent(); j.Kind == "drop" && !Routine(e) && !(j.Dport == uint16(port) && j.Reason == "NO_SOCKET") {
				t.Errorf("not routine: %s at %s %s > %s", j.Reason, j.Location, j.Src, j.Dst)
			}
		case <-deadline:
			return
		}
	}
}
