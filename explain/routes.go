package explain

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/droptrace/droptrace/event"
)

// rpFilter reports the rp_filter settings that applied (the higher of
// all and the device wins) and where the route back to the source goes.
func rpFilter(c *conn, ev *event.Event) (finding, error) {
	if !ev.Src.Is4() {
		return finding{evidence: kv("src", ev.Src.String())}, nil
	}
	dev := ev.Ifname
	f := finding{}
	vals, err := c.sysctls("net/ipv4/conf/all/rp_filter", "net/ipv4/conf/"+dev+"/rp_filter")
	f.evidence = append(f.evidence, vals...)
	f.evidence = append(f.evidence, event.Evidence{Key: "arrived_on", Value: dev})
	back, out, rerr := routeText(c, ev.Src)
	f.evidence = append(f.evidence, event.Evidence{Key: "reverse_route", Value: back})
	if rerr == nil && out != "" && out != dev {
		f.cause = fmt.Sprintf("reverse path filter: the route back to %s leaves through %s, not %s where the packet came in", ev.Src, out, dev)
	} else if rerr == nil && out == "" {
		f.cause = fmt.Sprintf("reverse path filter: there is no usable route back to %s", ev.Src)
	}
	return f, err
}

// route reports the route lookup for the destination, naming the reject
// route (blackhole, unreachable, prohibit) that matched, and whether
// forwarding is on for the device the packet came in on.
func route(c *conn, ev *event.Event) (finding, error) {
	if !ev.Dst.IsValid() {
		return finding{}, nil
	}
	text, _, err := routeText(c, ev.Dst)
	f := finding{evidence: kv("route_get", text)}
	if rt, ok := rejectRoute(c, ev.Dst); ok {
		f.evidence = append(f.evidence, event.Evidence{Key: "route", Value: rt})
	}
	fwd, ferr := c.sysctls(forwardingSysctls(ev)...)
	f.evidence = append(f.evidence, fwd...)
	f.cause = routeCause(ev.Dst, err, fwd)
	return f, ferr
}

func forwardingSysctls(ev *event.Event) []string {
	if ev.Dst.Is4() {
		paths := []string{"net/ipv4/ip_forward"}
		if ev.Ifname != "" {
			paths = append(paths, "net/ipv4/conf/"+ev.Ifname+"/forwarding")
		}
		return paths
	}
	paths := []string{"net/ipv6/conf/all/forwarding"}
	if ev.Ifname != "" {
		paths = append(paths, "net/ipv6/conf/"+ev.Ifname+"/forwarding")
	}
	return paths
}

// routeCause names the verdict of the route lookup, which the kernel
// gives as an errno for reject routes.
func routeCause(dst netip.Addr, err error, fwd []event.Evidence) string {
	switch {
	case errors.Is(err, unix.EINVAL):
		return fmt.Sprintf("the route to %s is a blackhole: the kernel discards such packets silently", dst)
	case errors.Is(err, unix.EHOSTUNREACH):
		return fmt.Sprintf("the route to %s is unreachable: the kernel drops such packets and answers host unreachable", dst)
	case errors.Is(err, unix.EACCES):
		return fmt.Sprintf("the route to %s is prohibit: the kernel drops such packets and answers administratively prohibited", dst)
	case errors.Is(err, unix.ENETUNREACH):
		return fmt.Sprintf("there is no route to %s in this namespace", dst)
	case err == nil:
		for _, e := range fwd {
			if strings.HasSuffix(e.Key, "forward") || strings.HasSuffix(e.Key, "forwarding") {
				if e.Value == "0" {
					return fmt.Sprintf("a route to %s exists, but forwarding is off (%s = 0)", dst, e.Key)
				}
			}
		}
	}
	return ""
}

// routeText returns what ip route get prints for dst, in short, with the
// output device; a failed lookup reads like ip's error.
func routeText(c *conn, dst netip.Addr) (text, dev string, err error) {
	rts, err := c.h.RouteGet(net.IP(dst.AsSlice()))
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return "error: " + errno.Error(), "", err
		}
		return "error: " + err.Error(), "", err
	}
	if len(rts) == 0 {
		return "none", "", nil
	}
	rt := rts[0]
	var b strings.Builder
	b.WriteString(dst.String())
	if rt.Gw != nil {
		b.WriteString(" via " + rt.Gw.String())
	}
	if l, lerr := c.h.LinkByIndex(rt.LinkIndex); lerr == nil {
		dev = l.Attrs().Name
		b.WriteString(" dev " + dev)
	}
	if rt.Src != nil {
		b.WriteString(" src " + rt.Src.String())
	}
	return b.String(), dev, nil
}

// rejectRoute finds the most specific blackhole, unreachable or prohibit
// route covering dst in any table, e.g. "blackhole 10.9.0.0/16".
func rejectRoute(c *conn, dst netip.Addr) (string, bool) {
	fam := netlink.FAMILY_V4
	if dst.Is6() {
		fam = netlink.FAMILY_V6
	}
	rts, err := c.h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return "", false
	}
	best, bestBits := "", -1
	for _, rt := range rts {
		name := rejectName(rt.Type)
		if name == "" {
			continue
		}
		p := routePrefix(rt, dst.Is4())
		if p.Contains(dst) && p.Bits() > bestBits {
			best, bestBits = name+" "+p.String(), p.Bits()
		}
	}
	return best, bestBits >= 0
}

func rejectName(t int) string {
	switch t {
	case unix.RTN_BLACKHOLE:
		return "blackhole"
	case unix.RTN_UNREACHABLE:
		return "unreachable"
	case unix.RTN_PROHIBIT:
		return "prohibit"
	}
	return ""
}

func routePrefix(rt netlink.Route, v4 bool) netip.Prefix {
	if rt.Dst == nil {
		if v4 {
			return netip.MustParsePrefix("0.0.0.0/0")
		}
		return netip.MustParsePrefix("::/0")
	}
	a, _ := netip.AddrFromSlice(rt.Dst.IP)
	ones, _ := rt.Dst.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}
