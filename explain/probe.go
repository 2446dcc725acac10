package explain

import (
	"fmt"
	"strings"

	"github.com/droptrace/droptrace/event"
)

// probeKind is which evidence a drop calls for.
type probeKind uint8

const (
	probeNone      probeKind = iota
	probeRule                // NETFILTER_DROP: the netfilter annotator's rule
	probeListeners           // sockets on the destination port, any address or family
	probeSocketMem           // the receiving socket's memory, its owner and the caps
	probeRPFilter            // rp_filter and the reverse route
	probeRoute               // the route to the destination
	probeMTU                 // the device's and its peer's MTU
	probeQdisc               // the device's qdiscs and their counters
	probeNeigh               // the next hop's neighbour entry
	probeTCP                 // the TCP socket the segment was for
	probeFrag                // the reassembly sysctls and counters
)

var reasonProbes = map[string]probeKind{
	"NETFILTER_DROP": probeRule,
	"NO_SOCKET":      probeListeners,
	"SOCKET_RCVBUFF": probeSocketMem, "SOCKET_BACKLOG": probeSocketMem, "PROTO_MEM": probeSocketMem,
	"IP_RPFILTER":    probeRPFilter,
	"IP_OUTNOROUTES": probeRoute, "IP_INNOROUTES": probeRoute, "IP_INADDRERRORS": probeRoute,
	"PKT_TOO_BIG":  probeMTU,
	"NEIGH_FAILED": probeNeigh, "NEIGH_QUEUEFULL": probeNeigh, "NEIGH_CREATEFAIL": probeNeigh, "NEIGH_DEAD": probeNeigh,
	"FRAG_REASM_TIMEOUT": probeFrag, "FRAG_TOO_FAR": probeFrag, "DUP_FRAG": probeFrag,
}

// reasonProbe returns the look-up of a reason; every qdisc and tc reason
// reads the qdiscs, every TCP reason the socket.
func reasonProbe(reason string) probeKind {
	if k, ok := reasonProbes[reason]; ok {
		return k
	}
	switch {
	case strings.HasPrefix(reason, "QDISC_"), strings.HasPrefix(reason, "TC_"), strings.HasPrefix(reason, "FQ_"),
		reason == "CAKE_FLOOD", reason == "DUALPI2_STEP_DROP":
		return probeQdisc
	case strings.HasPrefix(reason, "TCP_"):
		return probeTCP
	}
	return probeNone
}

// keyOf is what a look-up's answer depends on: drops of one key within an
// interval share it.
func keyOf(kind probeKind, ev *event.Event) string {
	switch kind {
	case probeListeners:
		return fmt.Sprintf("%d/%d/%s/%d", kind, ev.Netns, ev.Proto, ev.Dport)
	case probeSocketMem:
		return fmt.Sprintf("%d/%d/%s/%s/%d/%d", kind, ev.Netns, ev.Proto, ev.Dst, ev.Dport, ev.SockCookie)
	case probeRPFilter:
		return fmt.Sprintf("%d/%d/%d/%s", kind, ev.Netns, ev.Ifindex, ev.Src)
	case probeRoute, probeNeigh:
		return fmt.Sprintf("%d/%d/%d/%s", kind, ev.Netns, ev.Ifindex, ev.Dst)
	case probeMTU, probeQdisc:
		return fmt.Sprintf("%d/%d/%d", kind, ev.Netns, ev.Ifindex)
	case probeTCP:
		return fmt.Sprintf("%d/%d/%s/%d/%s/%d", kind, ev.Netns, ev.Src, ev.Sport, ev.Dst, ev.Dport)
	case probeFrag:
		return fmt.Sprintf("%d/%d/%t", kind, ev.Netns, ev.Dst.Is6())
	}
	return fmt.Sprintf("%d/%d", kind, ev.Netns)
}

// lookup reads the evidence of kind for ev in ev's namespace.
func (x *Explainer) lookupSystem(kind probeKind, ev *event.Event) (finding, error) {
	if ev.Netns == 0 {
		return finding{}, fmt.Errorf("the drop's network namespace is not known")
	}
	c, err := x.conns.get(ev.Netns)
	if err != nil {
		return finding{}, err
	}
	switch kind {
	case probeListeners:
		return x.listeners(c, ev)
	case probeSocketMem:
		return x.socketMem(c, ev)
	case probeRPFilter:
		return rpFilter(c, ev)
	case probeRoute:
		return route(c, ev)
	case probeMTU:
		return x.mtu(c, ev)
	case probeQdisc:
		return qdiscs(c, ev)
	case probeNeigh:
		return neigh(c, ev)
	case probeTCP:
		return x.tcpSocket(c, ev)
	case probeFrag:
		return frag(c, ev)
	}
	return finding{}, nil
}

// kv builds evidence pairs from alternating keys and values.
func kv(pairs ...string) []event.Evidence {
	out := make([]event.Evidence, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, event.Evidence{Key: pairs[i], Value: pairs[i+1]})
	}
	return out
}
