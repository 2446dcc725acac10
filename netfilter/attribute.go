package netfilter

import (
	"net/netip"
	"time"

	"github.com/droptrace/droptrace/event"
)

// reasonNetfilterDrop is the drop reason of a packet a rule or policy dropped.
const reasonNetfilterDrop = "NETFILTER_DROP"

// Annotate fills ev.Netfilter for a NETFILTER_DROP it can attribute; it
// leaves every other event alone.
func (a *Annotator) Annotate(ev *event.Event) {
	if ev.Reason != reasonNetfilterDrop {
		return
	}
	// One reading of the clock per event: it costs as much as the rest
	// of a cached attribution.
	now := a.now()
	a.sweep(now)
	if ev.KernelRule != nil {
		a.annotateExact(ev, now)
		return
	}
	pkt := &a.pkt
	if !packetInto(ev, pkt) || ev.Netns == 0 {
		a.stats.NoHeaders++
		return
	}
	st, err := a.namespace(ev.Netns, now)
	if err != nil {
		a.stats.Failed++
		return
	}
	if st == nil {
		a.stats.ReadsSkipped++ // too many namespaces held
		return
	}
	rs, w, err := a.readsAround(st, ev.Time, now)
	if err != nil {
		a.stats.Failed++
		return
	}
	if rs == nil {
		return // never read, and the budget refused a read: counted
	}
	f := a.attribute(st, ev, pkt, rs, w)
	if f == nil {
		a.count(nil)
		return
	}
	a.count(f.nf)
	if f.nf == nil {
		return
	}
	ctState := f.nf.CtState
	if ev.CTState != ctStateInvalid || rs.tracksConnections() {
		ctState = event.CtStateName(ev.CTState)
	}
	ev.Netfilter = f.own(ctState, ev.Reply)
}

// flowAttribution is the attribution of a flow's drops, and the
// annotation its last event was given.
type flowAttribution struct {
	nf    *event.Netfilter
	given *event.Netfilter
}

// own gives the event its annotation: the flow's attribution completed
// with the event's conntrack state and reply. The events of a flow share
// one, as long as those are the same, rather than cost an allocation
// each; later stages read it and never change it.
func (f *flowAttribution) own(ctState string, reply *event.ReplySeen) *event.Netfilter {
	r := replyOf(reply)
	if g := f.given; g != nil && g.CtState == ctState && sameReply(g.Reply, r) {
		return g
	}
	c := *f.nf
	c.CtState, c.Reply = ctState, r
	f.given = &c
	return &c
}

func sameReply(a, b *event.NetfilterReply) bool {
	return a == b || (a != nil && b != nil && *a == *b)
}

// attribute replays the ruleset on the packet, once per flow, ruleset
// read and window: a storm of one flow costs one replay per read.
// It returns nil when the replay budget refused a replay.
func (a *Annotator) attribute(st *nsState, ev *event.Event, pkt *Packet, rs *Ruleset, w *window) *flowAttribution {
	key := flowKey{src: pkt.Src, dst: pkt.Dst, proto: ev.Proto, sport: pkt.Sport, dport: pkt.Dport,
		ifname: ev.Ifname, mark: pkt.Mark, ctState: pkt.CtState, ctStatus: pkt.CtStatus, cur: rs}
	if w != nil {
		key.old = w.old
	}
	if f, ok := st.flows[key]; ok {
		a.stats.Cached++
		return f
	}
	if !a.take(&a.replayTokens) {
		a.stats.ReplaysSkipped++
		return nil
	}
	hooks := hooksOf(pkt, st.local)
	oif, oifKnown := a.outputDevice(st, pkt, ev.Ifname, hooks)
	pkt.Iif = ev.Ifindex
	outs, complete := replay(rs, w, hooks, func(h uint32) *Packet { return hookView(pkt, ev.Ifname, oif, oifKnown, h) })
	nf := annotation(outs, complete, w, pkt)
	if len(st.flows) >= maxFlows {
		clear(st.flows)
	}
	f := &flowAttribution{nf: nf}
	st.flows[key] = f
	return f
}

// ctStateInvalid is nft's ct state invalid bit alone.
const ctStateInvalid = 1

// maxFlows bounds the attributions remembered per namespace.
const maxFlows = 4096

// flowKey is what an attribution depends on.
type flowKey struct {
	src, dst     netip.Addr
	proto        string
	sport, dport uint16
	ifname       string
	mark         uint32
	ctState      uint32
	ctStatus     uint32
	cur, old     *Ruleset
}

func (a *Annotator) count(nf *event.Netfilter) {
	switch {
	case nf == nil:
		a.stats.Unattributed++
	case nf.Certainty == event.CertaintyExact:
		a.stats.Exact++
	case nf.Certainty == event.CertaintyCounter:
		a.stats.Counter++
	case nf.Certainty == event.CertaintyReplayed:
		a.stats.Replayed++
	default:
		a.stats.Candidates++
	}
}

// readsAround returns the ruleset to replay on and, when two reads
// enclose the drop at t (the older ended before it, the newer started
// after it), the counter window between them. It reads the ruleset once
// more when no read started after t and the budget allows; nil when the
// namespace was never read and the budget refuses.
func (a *Annotator) readsAround(st *nsState, t, now time.Time) (*Ruleset, *window, error) {
	if n := len(st.reads); n == 0 || !st.reads[n-1].Start.After(t) {
		if !a.mayRead(st, now) {
			a.stats.ReadsSkipped++
			if n == 0 {
				return nil, nil, nil
			}
		} else if err := a.read(st); err != nil {
			return nil, nil, err
		}
	}
	var old, cur *Ruleset
	for _, rs := range st.reads {
		if rs.End.Before(t) {
			old = rs
		}
		if cur == nil && rs.Start.After(t) {
			cur = rs
		}
	}
	if old == nil || cur == nil {
		return st.reads[len(st.reads)-1], nil, nil
	}
	// The events between two reads share their window: building it
	// costs a map of every rule.
	if st.win == nil || st.win.old != old || st.win.cur != cur {
		st.win = newWindow(old, cur)
	}
	return cur, st.win, nil
}

// PacketOf returns the headers of the event's packet as rules see them.
func PacketOf(ev *event.Event) (*Packet, bool) {
	p := &Packet{}
	if !packetInto(ev, p) {
		return nil, false
	}
	return p, true
}

// packetInto is PacketOf into p, which it overwrites.
func packetInto(ev *event.Event, p *Packet) bool {
	if !ev.Src.IsValid() || !ev.Dst.IsValid() || ev.Src.Is4() != ev.Dst.Is4() {
		return false
	}
	*p = Packet{Src: ev.Src.Unmap(), Dst: ev.Dst.Unmap(), Sport: ev.Sport, Dport: ev.Dport, Mark: ev.Mark,
		CtState: uint32(ev.CTState), CtStatus: uint32(ev.CTStatus)}
	p.Proto, p.ProtoKnown = protoNumber(ev.Proto)
	return true
}

func protoNumber(name string) (uint8, bool) {
	switch name {
	case "tcp":
		return protoTCP, true
	case "udp":
		return protoUDP, true
	case "icmp":
		return protoICMP, true
	case "icmp6":
		return protoICMPv6, true
	}
	var n int
	for _, c := range name {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return uint8(n), name != "" && n < 256
}

// hooksOf lists the hooks the packet passed, in order, from whether its
// addresses are the namespace's own; every hook when they are not known.
func hooksOf(p *Packet, local map[netip.Addr]bool) []uint32 {
	if local == nil {
		return []uint32{HookPrerouting, HookInput, HookForward, HookOutput, HookPostrouting}
	}
	src := local[p.Src] || p.Src.IsLoopback()
	dst := local[p.Dst] || p.Dst.IsLoopback() || p.Dst.IsMulticast()
	switch {
	case src && dst:
		return []uint32{HookOutput, HookPostrouting, HookPrerouting, HookInput}
	case src:
		return []uint32{HookOutput, HookPostrouting}
	case dst:
		return []uint32{HookPrerouting, HookInput}
	}
	return []uint32{HookPrerouting, HookForward, HookPostrouting}
}

// outputDevice asks the namespace's routes which device a forwarded or
// local packet leaves by; not known for a packet delivered locally, or
// when the look-up fails.
func (a *Annotator) outputDevice(st *nsState, p *Packet, iif string, hooks []uint32) (string, bool) {
	if hooks[len(hooks)-1] == HookInput || len(hooks) == 4 {
		return "", false // delivered here (or looped back: several devices)
	}
	if hooks[0] == HookOutput {
		iif = ""
	} else if iif == "" {
		return "", false
	}
	a.stats.RouteLookups++
	oif, err := st.reader.OutputDevice(p.Src, p.Dst, iif, p.Mark)
	return oif, err == nil
}

// hookView is the packet as a hook sees it: the input device is the
// event's at prerouting, input and forward, none after routing of a
// local packet; the output device, none before routing, is the route's
// after it.
func hookView(p *Packet, ifname, oif string, oifKnown bool, hook uint32) *Packet {
	v := *p
	switch hook {
	case HookPrerouting, HookInput:
		v.Iifname, v.IifKnown = ifname, ifname != ""
		v.Oifname, v.OifKnown = "", true
	case HookForward:
		v.Iifname, v.IifKnown = ifname, ifname != ""
		v.Oifname, v.OifKnown = oif, oifKnown
	case HookOutput, HookPostrouting:
		v.Iifname, v.IifKnown, v.Iif = "", true, 0
		v.Oifname, v.OifKnown = oif, oifKnown
	}
	return &v
}
