package explain

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/droptrace/droptrace/event"
)

// maxListed is the most sockets listed as evidence of one drop.
const maxListed = 5

// listeners lists the sockets on the drop's destination port in its
// namespace, in both protocols, on any address and family, and says why
// none took the packet.
func (x *Explainer) listeners(c *conn, ev *event.Event) (finding, error) {
	if ev.Proto != "tcp" && ev.Proto != "udp" {
		return finding{evidence: kv("proto", ev.Proto)}, nil
	}
	var found []diagSocket
	for _, proto := range []string{"tcp", "udp"} {
		socks, err := c.dumpSockets(proto)
		if err != nil {
			return finding{}, err
		}
		for _, s := range socks {
			if s.local.Port() == ev.Dport && (proto == "udp" || s.state == tcpListen) {
				found = append(found, s)
			}
		}
	}
	f := finding{evidence: kv("dst", dstText(ev), "listeners", strconv.Itoa(len(found)))}
	f.evidence = append(f.evidence, x.listSockets(found)...)
	f.cause = listenerCause(ev, found)
	return f, nil
}

// listSockets describes up to maxListed sockets with their owners.
func (x *Explainer) listSockets(socks []diagSocket) []event.Evidence {
	socks = socks[:min(len(socks), maxListed)]
	inodes := make([]uint32, len(socks))
	for i, s := range socks {
		inodes[i] = s.inode
	}
	own, _ := owners("/proc", inodes, x.cfg.MaxFDs)
	var out []event.Evidence
	for _, s := range socks {
		v := s.proto + " " + s.local.String()
		if o, ok := own[s.inode]; ok {
			v += " pid " + o
		}
		out = append(out, event.Evidence{Key: "listener", Value: v})
	}
	return out
}

func dstText(ev *event.Event) string {
	return netip.AddrPortFrom(ev.Dst, ev.Dport).String() + "/" + ev.Proto
}

// listenerCause says why the sockets found did not take the packet.
func listenerCause(ev *event.Event, found []diagSocket) string {
	port := strconv.Itoa(int(ev.Dport))
	other := ""
	for _, s := range found {
		switch {
		case s.proto != ev.Proto:
			other = fmt.Sprintf("a %s socket listens on port %s, but the packet is %s", s.proto, port, ev.Proto)
		case !s.local.Addr().IsUnspecified() && s.local.Addr() != ev.Dst:
			return fmt.Sprintf("a %s socket listens on port %s, but on %s, not on the packet's destination %s", s.proto, port, s.local.Addr(), ev.Dst)
		case s.local.Addr().Is4() && ev.Dst.Is6(), s.v6only && ev.Dst.Is4():
			return fmt.Sprintf("a %s socket listens on port %s, but only for %s", s.proto, port, family(s.local.Addr()))
		default:
			return fmt.Sprintf("a %s socket on port %s exists now: it was probably opened after the drop, or it is connected elsewhere", s.proto, port)
		}
	}
	if other != "" {
		return other
	}
	return fmt.Sprintf("nothing listens on %s port %s in this namespace, on any address or family", ev.Proto, port)
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// socketMem finds the socket the packet was for and reports its memory,
// owner and the limits that cap it.
func (x *Explainer) socketMem(c *conn, ev *event.Event) (finding, error) {
	if ev.Proto != "tcp" && ev.Proto != "udp" {
		return finding{}, nil
	}
	socks, err := c.dumpSockets(ev.Proto)
	if err != nil {
		return finding{}, err
	}
	s, ok := receiver(socks, ev)
	var f finding
	if ok {
		f.evidence = x.socketEvidence(s)
		f.cause = memCause(ev.Reason, s)
	} else {
		f.evidence = kv("socket", "gone (no "+ev.Proto+" socket on "+dstText(ev)+")")
	}
	limits, err := c.sysctls(memSysctls(ev.Proto)...)
	f.evidence = append(f.evidence, limits...)
	f.evidence = append(f.evidence, protoMem(ev.Proto)...)
	return f, err
}

// memCause says how full the socket was, when its counters say.
func memCause(reason string, s diagSocket) string {
	rb, drops := s.memValue(memRcvbuf), s.memValue(memDrops)
	if rb < 0 || drops < 0 || reason == "PROTO_MEM" {
		return ""
	}
	return fmt.Sprintf("the receive buffer of %s %s (%d bytes) was full, %d packets dropped so far: its application reads more slowly than packets arrive",
		s.proto, s.local, rb, drops)
}

// memSysctls are the per-namespace limits on a socket's receive memory.
func memSysctls(proto string) []string {
	if proto == "tcp" {
		return []string{"net/core/rmem_max", "net/ipv4/tcp_rmem"}
	}
	return []string{"net/core/rmem_max", "net/core/rmem_default"}
}

// protoMem is the protocol's memory limit and use, in pages. Both are
// global, not per namespace: the sysctl exists only in the initial
// namespace, which is droptrace's own, and /proc/net/sockstat counts
// every namespace's memory.
func protoMem(proto string) []event.Evidence {
	name := "net/ipv4/udp_mem"
	if proto == "tcp" {
		name = "net/ipv4/tcp_mem"
	}
	return kv(sysctlName(name), readSysctl(name), proto+"_mem_pages_in_use", sockstatMem(proto))
}

// sockstatMem reads "UDP: inuse 3 mem 2" from /proc/net/sockstat.
func sockstatMem(proto string) string {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == strings.ToUpper(proto)+":" {
			for i := 1; i+1 < len(f); i++ {
				if f[i] == "mem" {
					return f[i+1]
				}
			}
		}
	}
	return "?"
}

// receiver picks the socket that received the packet: the one with the
// event's cookie, else a connected socket with the packet's two ends,
// else one bound to the destination address, else a wildcard one.
func receiver(socks []diagSocket, ev *event.Event) (diagSocket, bool) {
	best, bestScore := diagSocket{}, -1
	for _, s := range socks {
		if score := receiverScore(s, ev); score > bestScore {
			best, bestScore = s, score
		}
	}
	return best, bestScore >= 0
}

func receiverScore(s diagSocket, ev *event.Event) int {
	switch {
	case ev.SockCookie != 0 && s.cookie == ev.SockCookie:
		return 4
	case s.local.Port() != ev.Dport:
		return -1
	case s.remote.Port() != 0:
		if s.remote == netip.AddrPortFrom(ev.Src, ev.Sport) && (s.local.Addr() == ev.Dst || s.local.Addr().IsUnspecified()) {
			return 3
		}
		return -1
	case s.local.Addr() == ev.Dst:
		return 2
	case s.local.Addr().IsUnspecified():
		return 1
	}
	return -1
}

// socketEvidence is what ss -m shows of a socket, and its owner.
func (x *Explainer) socketEvidence(s diagSocket) []event.Evidence {
	own, _ := owners("/proc", []uint32{s.inode}, x.cfg.MaxFDs)
	owner := own[s.inode]
	if owner == "" {
		owner = "unknown"
	}
	out := kv("socket", s.proto+" "+s.local.String(), "owner", owner,
		"state", event.TCPStateName(s.state))
	if s.proto == "udp" {
		out = out[:2] // a UDP socket's state says nothing here
	}
	for _, m := range []struct {
		key string
		i   int
	}{{"rcvbuf", memRcvbuf}, {"rmem_alloc", memRmemAlloc}, {"backlog", memBacklog}, {"drops", memDrops}} {
		if v := s.memValue(m.i); v >= 0 {
			out = append(out, event.Evidence{Key: m.key, Value: strconv.FormatInt(v, 10)})
		}
	}
	return out
}

// tcpSocket reports the TCP socket a rejected segment was for: the
// connection's own (its state now, memory and owner), else the listener
// on the port, which is what a segment without a connection reaches.
func (x *Explainer) tcpSocket(c *conn, ev *event.Event) (finding, error) {
	f := finding{evidence: kv("tcp_state_at_drop", orNone(ev.TCPState))}
	socks, err := c.dumpSockets("tcp")
	if err != nil {
		return f, err
	}
	var conns, listeners []diagSocket
	for _, s := range socks {
		switch score := receiverScore(s, ev); {
		case score >= 3:
			conns = append(conns, s)
		case score >= 1 && s.state == tcpListen:
			listeners = append(listeners, s)
		}
	}
	if len(conns) > 0 {
		f.evidence = append(f.evidence, x.socketEvidence(conns[0])...)
		return f, nil
	}
	f.evidence = append(f.evidence, kv("socket", "none now")...)
	f.evidence = append(f.evidence, x.listSockets(listeners)...)
	return f, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
