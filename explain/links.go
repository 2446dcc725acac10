package explain

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/nsfs"
)

// mtu reports the MTU of the drop's device and of its peer (a veth's
// other end, found in whichever namespace it lives).
func (x *Explainer) mtu(c *conn, ev *event.Event) (finding, error) {
	link, err := c.h.LinkByIndex(int(ev.Ifindex))
	if err != nil {
		return finding{}, fmt.Errorf("device %d in netns %d: %w", ev.Ifindex, c.ino, err)
	}
	a := link.Attrs()
	f := finding{evidence: kv("len", strconv.Itoa(int(ev.Len)), "mtu."+a.Name, strconv.Itoa(a.MTU))}
	if ev.Reason == "PKT_TOO_BIG" && ev.Dst.IsValid() {
		return wayOut(c, ev, f), nil
	}
	peer, pns, err := x.peer(c, link)
	if err != nil || peer == nil {
		return f, err
	}
	p := peer.Attrs()
	f.evidence = append(f.evidence, kv("peer", fmt.Sprintf("%s (netns %d)", p.Name, pns), "mtu."+p.Name, strconv.Itoa(p.MTU))...)
	if p.MTU < a.MTU {
		f.cause = fmt.Sprintf("the packet (%d bytes) does not fit the MTU %d of %s, the peer of %s (MTU %d)", ev.Len, p.MTU, p.Name, a.Name, a.MTU)
		f.fix = fmt.Sprintf("give %s and %s the same MTU, or lower the sender's MTU to %d", a.Name, p.Name, p.MTU)
	}
	return f, nil
}

// wayOut adds the device a forwarded packet was to leave by, and its
// MTU: a packet too big is dropped where it came in, and the MTU that
// refused it is the outgoing device's.
func wayOut(c *conn, ev *event.Event, f finding) finding {
	route, dev, err := routeText(c, ev.Dst)
	f.evidence = append(f.evidence, event.Evidence{Key: "route_get", Value: route})
	if err != nil || dev == "" {
		return f
	}
	out, err := c.h.LinkByName(dev)
	if err != nil {
		return f
	}
	mtu := out.Attrs().MTU
	f.evidence = append(f.evidence, event.Evidence{Key: "mtu." + dev, Value: strconv.Itoa(mtu)})
	f.cause = fmt.Sprintf("the packet (%d bytes) is larger than the MTU %d of %s, the way out to %s, and may not be fragmented", ev.Len, mtu, dev, ev.Dst)
	return f
}

// peer returns the link at the other end of a veth (IFLA_LINK and
// IFLA_LINK_NETNSID) and its namespace inode; nil when link has none.
func (x *Explainer) peer(c *conn, link netlink.Link) (netlink.Link, uint32, error) {
	a := link.Attrs()
	if a.ParentIndex == 0 {
		return nil, 0, nil
	}
	if a.NetNsID < 0 {
		l, err := c.h.LinkByIndex(a.ParentIndex)
		return l, c.ino, err
	}
	for ino, path := range nsfs.Scan("/run/netns", "/proc") {
		if found, ok := x.peerIn(c, ino, path, a); ok {
			return found, ino, nil
		}
	}
	return nil, 0, fmt.Errorf("peer of %s: namespace with id %d not found", a.Name, a.NetNsID)
}

// peerIn looks for the peer in the namespace at path, when c's namespace
// knows it by the link's netns id.
func (x *Explainer) peerIn(c *conn, ino uint32, path string, a *netlink.LinkAttrs) (netlink.Link, bool) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	id, err := c.h.GetNetNsIdByFd(fd)
	unix.Close(fd)
	if err != nil || id != a.NetNsID {
		return nil, false
	}
	pc, err := x.conns.get(ino)
	if err != nil {
		return nil, false
	}
	l, err := pc.h.LinkByIndex(a.ParentIndex)
	return l, err == nil
}

// qdiscs reports the qdiscs of the drop's device as tc -s qdisc shows
// them: kind, handle, parent, limit, backlog, drops and overlimits.
func qdiscs(c *conn, ev *event.Event) (finding, error) {
	link, err := c.h.LinkByIndex(int(ev.Ifindex))
	if err != nil {
		return finding{}, fmt.Errorf("device %d in netns %d: %w", ev.Ifindex, c.ino, err)
	}
	qs, err := c.h.QdiscList(link)
	if err != nil {
		return finding{}, fmt.Errorf("qdiscs of %s: %w", link.Attrs().Name, err)
	}
	f := finding{evidence: kv("dev", link.Attrs().Name)}
	for i, q := range qs {
		if i == maxListed {
			break
		}
		f.evidence = append(f.evidence, event.Evidence{Key: "qdisc", Value: qdiscText(q)})
	}
	switch ev.Reason {
	case "TC_INGRESS":
		f.evidence = append(f.evidence, tcFilters(c, link, netlink.HANDLE_MIN_INGRESS, "ingress")...)
	case "TC_EGRESS":
		f.evidence = append(f.evidence, tcFilters(c, link, netlink.HANDLE_MIN_EGRESS, "egress")...)
	}
	return f, nil
}

// tcFilters lists the filters of a clsact hook as tc filter show does in
// short: "ingress bpf pref 49152 prog.o:[tc] id 42".
func tcFilters(c *conn, link netlink.Link, parent uint32, hook string) []event.Evidence {
	fs, err := c.h.FilterList(link, parent)
	if err != nil {
		return kv("filter", hook+" error: "+err.Error())
	}
	out := kv("filters", hook+" "+strconv.Itoa(len(fs)))
	for i, flt := range fs {
		if i == maxListed {
			break
		}
		v := fmt.Sprintf("%s %s pref %d", hook, flt.Type(), flt.Attrs().Priority)
		if b, ok := flt.(*netlink.BpfFilter); ok {
			v += fmt.Sprintf(" %s id %d", b.Name, b.Id)
		}
		out = append(out, event.Evidence{Key: "filter", Value: v})
	}
	return out
}

func qdiscText(q netlink.Qdisc) string {
	a := q.Attrs()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", q.Type(), handleText(a.Handle))
	if a.Parent == netlink.HANDLE_ROOT {
		b.WriteString(" root")
	} else {
		b.WriteString(" parent " + handleText(a.Parent))
	}
	if l, unit := qdiscLimit(q); l != 0 {
		fmt.Fprintf(&b, " limit %d%s", l, unit)
	}
	if s := a.Statistics; s != nil && s.Queue != nil {
		fmt.Fprintf(&b, " backlog %db %dp dropped %d overlimits %d", s.Queue.Backlog, s.Queue.Qlen, s.Queue.Drops, s.Queue.Overlimits)
	}
	return b.String()
}

// handleText prints a handle as tc does: "8001:" for a qdisc's, "1:10"
// for a class's.
func handleText(h uint32) string {
	major, minor := h>>16, h&0xffff
	if minor == 0 {
		return strconv.FormatUint(uint64(major), 16) + ":"
	}
	return strconv.FormatUint(uint64(major), 16) + ":" + strconv.FormatUint(uint64(minor), 16)
}

// qdiscLimit returns the limit of the qdiscs that have one, with tc's
// unit ("b" for bytes, "p" for packets).
func qdiscLimit(q netlink.Qdisc) (uint32, string) {
	switch q := q.(type) {
	case *netlink.Tbf:
		return q.Limit, "b"
	case *netlink.Fq:
		return q.PacketLimit, "p"
	case *netlink.FqCodel:
		return q.Limit, "p"
	case *netlink.Sfq:
		return q.Limit, "p"
	case *netlink.Netem:
		return q.Limit, "p"
	}
	return 0, ""
}

// neigh reports the next hop's neighbour entry, as ip neigh shows it, and
// the limit of the queue of packets waiting for it to resolve.
func neigh(c *conn, ev *event.Event) (finding, error) {
	if !ev.Dst.IsValid() {
		return finding{}, nil
	}
	hop, dev := net.IP(ev.Dst.AsSlice()), int(ev.Ifindex)
	if rts, err := c.h.RouteGet(hop); err == nil && len(rts) > 0 {
		if rts[0].Gw != nil {
			hop = rts[0].Gw
		}
		dev = rts[0].LinkIndex
	}
	name := strconv.Itoa(dev)
	if l, err := c.h.LinkByIndex(dev); err == nil {
		name = l.Attrs().Name
	}
	f := finding{evidence: kv("next_hop", hop.String()+" dev "+name, "neigh_state", neighState(c, hop, dev))}
	fam := "ipv4"
	if hop.To4() == nil {
		fam = "ipv6"
	}
	q, err := c.sysctls("net/"+fam+"/neigh/"+name+"/unres_qlen_bytes", "net/"+fam+"/neigh/"+name+"/unres_qlen",
		"net/"+fam+"/neigh/"+name+"/mcast_solicit", "net/"+fam+"/neigh/"+name+"/ucast_solicit")
	f.evidence = append(f.evidence, q...)
	return f, err
}

func neighState(c *conn, hop net.IP, dev int) string {
	fam := netlink.FAMILY_V4
	if hop.To4() == nil {
		fam = netlink.FAMILY_V6
	}
	ns, err := c.h.NeighList(dev, fam)
	if err != nil {
		return "error: " + err.Error()
	}
	for _, n := range ns {
		if n.IP.Equal(hop) {
			return nudName(n.State)
		}
	}
	return "none"
}

// nudName names a neighbour state as ip neigh prints it.
func nudName(s int) string {
	names := []struct {
		bit  int
		name string
	}{{netlink.NUD_INCOMPLETE, "INCOMPLETE"}, {netlink.NUD_REACHABLE, "REACHABLE"}, {netlink.NUD_STALE, "STALE"},
		{netlink.NUD_DELAY, "DELAY"}, {netlink.NUD_PROBE, "PROBE"}, {netlink.NUD_FAILED, "FAILED"},
		{netlink.NUD_NOARP, "NOARP"}, {netlink.NUD_PERMANENT, "PERMANENT"}}
	var out []string
	for _, n := range names {
		if s&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return "NONE"
	}
	return strings.Join(out, ",")
}

// frag reports the reassembly limits of the packet's family.
func frag(c *conn, ev *event.Event) (finding, error) {
	paths := []string{"net/ipv4/ipfrag_time", "net/ipv4/ipfrag_high_thresh", "net/ipv4/ipfrag_low_thresh", "net/ipv4/ipfrag_max_dist"}
	if ev.Dst.Is6() {
		paths = []string{"net/ipv6/ip6frag_time", "net/ipv6/ip6frag_high_thresh", "net/ipv6/ip6frag_low_thresh"}
	}
	vals, err := c.sysctls(paths...)
	return finding{evidence: vals}, err
}
