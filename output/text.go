package output

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/droptrace/droptrace/event"
)

// The tuple sides are as wide as the longest IPv4 address with a port
// ("255.255.255.255:65535"), so IPv4 lines align and IPv6 ones overflow.
const textFormat = "%-15s %-10s %-15s %-5s %-21s %1s %-21s %5s %-5s %-20s %s%s\n"

type text struct {
	w         io.Writer
	wroteHead bool
	line      []byte // reused: a line per event must not cost allocations
	cache     lineCache
}

// lineCache is what text lines keep from one event to the next, because
// most events of a storm share it: the clock's second and the rule.
type lineCache struct {
	clock clockText
	rule  ruleQuote
	cols  packetColsText
}

// NewText returns an event.Writer that prints one aligned line per event for a
// human, after a header line. Each line is written to w as soon as its
// event arrives; w is not closed by Close.
func NewText(w io.Writer) event.Writer {
	return &text{w: w}
}

func (t *text) Write(ev *event.Event) error {
	if !t.wroteHead {
		head := fmt.Sprintf(textFormat, "TIME", "NETNS", "IFACE", "PROTO",
			"SRC", "", "DST", "LEN", "FLAGS", "REASON", "LOCATION", "")
		if _, err := io.WriteString(t.w, head); err != nil {
			return fmt.Errorf("writing text header: %w", err)
		}
		t.wroteHead = true
	}
	t.line = appendTextLine(t.line[:0], ev, &t.cache)
	if _, err := t.w.Write(t.line); err != nil {
		return fmt.Errorf("writing text event: %w", err)
	}
	return nil
}

func (t *text) Close() error { return nil }

// appendTextLine appends what textFormat prints for ev. It appends rather
// than calling fmt, which costs more than the rest of droptrace's user
// space per event when every drop of a storm is printed.
func appendTextLine(b []byte, ev *event.Event, c *lineCache) []byte {
	b = c.clock.append(b, ev.Time)
	b = append(b, ' ')
	b = c.cols.append(b, ev)
	b = appendFlagsCol(b, ev.TCPFlags)
	b = appendReasonCol(b, ev)
	b = append(b, ' ')
	b = append(b, orDash(ev.Location)...)
	b = appendTCPText(b, ev)
	b = appendNetfilterText(b, ev.Netfilter, &c.rule)
	b = append(b, '\n')
	return appendExplainLine(b, ev.Explain)
}

// appendPacketCols appends the columns from NETNS to LEN that the text and
// path lines share: "%-10s %-15s %-5s %-21s %1s %-21s %5s".
func appendPacketCols(b []byte, ev *event.Event) []byte {
	return appendLenCol(appendPlaceCols(b, ev), ev.Len)
}

// appendPlaceCols appends the columns from NETNS to DST and the space
// before LEN.
func appendPlaceCols(b []byte, ev *event.Event) []byte {
	start := len(b)
	b = appendNetns(b, ev.Netns, ev.Pod)
	b = padTo(b, start, 10)
	b = appendCol(b, orDash(ev.Ifname), 15)
	b = appendCol(b, orDash(ev.Proto), 5)
	b = append(b, ' ')
	b = appendTuple(b, ev)
	return append(b, ' ')
}

// appendLenCol appends the LEN column, "%5d".
func appendLenCol(b []byte, n uint32) []byte {
	if n > 99999 {
		return strconv.AppendUint(b, uint64(n), 10)
	}
	// Most lengths fit the column's five: its digits are written from the
	// last, two at a time as clockText's, into b itself: digits stored a
	// byte at a time into an array and then copied into b made the copy's
	// wide loads wait for those stores to reach the cache.
	start := len(b)
	b = append(b, "     "...)
	col := b[start : start+5]
	i := 4
	for n >= 10 {
		d := n % 100 * 2
		n /= 100
		col[i], col[i-1] = pairs[d+1], pairs[d]
		i -= 2
	}
	// A pair taken while n >= 10 never starts with a zero: what is left
	// is a digit of its own, or the length 0.
	if n > 0 || i == 4 {
		col[i] = byte('0' + n)
	}
	return b
}

// recentText keeps the text of the last few keys formatted: the events
// of a storm mostly share their namespace, device and flow, a path's
// steps their path id, and formatting addresses costs more than the rest
// of a line. A few, not one: a path's steps cross two namespaces and
// devices, and a connection's packets go both ways.
type recentText[K comparable] struct {
	entries [recentSize]recentEntry[K]
	last    int // the entry hit or filled last, tried first
}

const recentSize = 8

type recentEntry[K comparable] struct {
	key  K
	ok   bool
	text []byte
}

// text returns the text of key; one not kept is written by format, which
// appends it to the slice it is given, in the place of the entry after
// the last one used.
func (c *recentText[K]) text(key K, format func([]byte) []byte) []byte {
	for i := range recentSize {
		j := (c.last + i) % recentSize
		if e := &c.entries[j]; e.ok && e.key == key {
			c.last = j
			return e.text
		}
	}
	c.last = (c.last + 1) % recentSize
	e := &c.entries[c.last]
	e.key, e.ok = key, true
	e.text = format(e.text[:0])
	return e.text
}

// packetColsText keeps the columns from NETNS to DST of the last few
// places and flows seen.
type packetColsText struct {
	recentText[placeKey]
}

// placeKey is what appendPlaceCols prints. The pod is compared by
// pointer: a Pod is not changed once an event carries it (pods.Resolver
// builds new ones for each snapshot).
type placeKey struct {
	pod           *event.Pod
	netns         uint32
	ifname, proto string
	src, dst      netip.Addr
	sport, dport  uint16
}

// append appends the columns from NETNS to LEN, as appendPacketCols.
func (c *packetColsText) append(b []byte, ev *event.Event) []byte {
	key := placeKey{pod: ev.Pod, netns: ev.Netns, ifname: ev.Ifname, proto: ev.Proto, src: ev.Src, dst: ev.Dst,
		sport: ev.Sport, dport: ev.Dport}
	cols := c.text(key, func(b []byte) []byte { return appendPlaceCols(b, ev) })
	return appendLenCol(append(b, cols...), ev.Len)
}

// appendFlagsCol appends the FLAGS column, "%-5s" of the flags or "-".
func appendFlagsCol(b []byte, flags uint8) []byte {
	if flags == 0 {
		return appendCol(b, "-", 5)
	}
	b = append(b, ' ')
	start := len(b)
	b = appendTCPFlags(b, flags)
	return padTo(b, start, 5)
}

// appendReasonCol appends the REASON column, "%-20s" of reasonText(ev)
// or "-": a reason known only by its number costs no string.
func appendReasonCol(b []byte, ev *event.Event) []byte {
	if ev.Reason != "" || ev.ReasonCode == 0 {
		return appendCol(b, orDash(reasonText(ev)), 20)
	}
	b = append(b, ' ')
	start := len(b)
	b = strconv.AppendUint(b, uint64(ev.ReasonCode), 10)
	return padTo(b, start, 20)
}

// appendCol appends a space and s, padded with spaces to width.
func appendCol(b []byte, s string, width int) []byte {
	b = append(b, ' ')
	start := len(b)
	b = append(b, s...)
	return padTo(b, start, width)
}

// padTo pads what was appended since start with spaces to width.
func padTo(b []byte, start, width int) []byte {
	n := width - (len(b) - start)
	for n > len(spaces) {
		b = append(b, spaces...)
		n -= len(spaces)
	}
	if n > 0 {
		b = append(b, spaces[:n]...)
	}
	return b
}

// spaces pads columns in one copy rather than a byte at a time.
const spaces = "                                "

// appendTuple appends the "%-21s %1s %-21s" columns: "src:sport > dst:dport",
// or a lone "-" when the packet had no IP header, so that the columns after
// it stay aligned either way.
func appendTuple(b []byte, ev *event.Event) []byte {
	if !ev.Src.IsValid() && !ev.Dst.IsValid() {
		start := len(b)
		b = padTo(append(b, '-'), start, 21)
		// " %1s %-21s" of an empty arrow and destination.
		return padTo(b, len(b), 1+1+1+21)
	}
	ports := hasPorts(ev)
	start := len(b)
	b = appendEndpoint(b, ev.Src, ev.Sport, ports)
	b = padTo(b, start, 21)
	b = append(b, " > "...)
	start = len(b)
	b = appendEndpoint(b, ev.Dst, ev.Dport, ports)
	return padTo(b, start, 21)
}

func appendEndpoint(b []byte, addr netip.Addr, port uint16, withPort bool) []byte {
	switch {
	case !addr.IsValid():
		return append(b, '-')
	case withPort:
		return netip.AddrPortFrom(addr, port).AppendTo(b)
	default:
		return addr.AppendTo(b)
	}
}

// clockText formats event times as local "15:04:05.000000". Formatting the
// clock part of a time costs more than the rest of a line, and at a
// million events a second nearly all of them share their second with the
// one before: that part is kept and only the microseconds are appended.
type clockText struct {
	sec    int64 // Unix second that prefix is of
	prefix []byte
}

func (c *clockText) append(b []byte, t time.Time) []byte {
	if sec := t.Unix(); sec != c.sec || c.prefix == nil {
		c.sec = sec
		c.prefix = t.Local().AppendFormat(c.prefix[:0], "15:04:05.")
	}
	b = append(b, c.prefix...)
	// Two digits at a time from the last, dividing by a constant (a
	// multiply), not by a variable power of ten; into b itself, as
	// appendLenCol's.
	us := uint32(t.Nanosecond() / 1000)
	start := len(b)
	b = append(b, "000000"...)
	digits := b[start : start+6]
	for i := len(digits) - 2; i >= 0; i -= 2 {
		d := us % 100 * 2
		digits[i], digits[i+1] = pairs[d], pairs[d+1]
		us /= 100
	}
	return b
}

// pairs holds "00" to "99", for two digits in one look-up.
const pairs = "00010203040506070809" + "10111213141516171819" + "20212223242526272829" +
	"30313233343536373839" + "40414243444546474849" + "50515253545556575859" +
	"60616263646566676869" + "70717273747576777879" + "80818283848586878889" +
	"90919293949596979899"

// hasPorts says whether the ports mean anything. Port 0 is valid for TCP
// and UDP, and the decoder may fill ports for protocols such as SCTP that
// are only known here by number.
func hasPorts(ev *event.Event) bool {
	return ev.Proto == "tcp" || ev.Proto == "udp" || ev.Sport != 0 || ev.Dport != 0
}

// appendNetns appends the NETNS column: the namespace's best name when
// it has one (pod "namespace/name", 'ip netns' name, container name),
// else its inode, else "-".
func appendNetns(b []byte, netns uint32, pod *event.Pod) []byte {
	if name := podText(pod); name != "" {
		return append(b, name...)
	}
	if netns == 0 {
		return append(b, '-')
	}
	return strconv.AppendUint(b, uint64(netns), 10)
}

// podText is the name the NETNS column shows for p, "" when none. A
// container known only by its cgroup path is left to the inode, which is
// shorter.
func podText(p *event.Pod) string {
	switch {
	case p == nil:
		return ""
	case p.Name != "":
		return p.Ref()
	case p.NetnsName != "":
		return p.NetnsName
	case p.Container != "" && !strings.HasPrefix(p.Container, "/"):
		return p.Container
	}
	return ""
}

func netnsText(netns uint32) string {
	if netns == 0 {
		return ""
	}
	return strconv.FormatUint(uint64(netns), 10)
}

// reasonText names why the event happened for the REASON column. An event
// that is not a drop (a retransmit, a trace point) usually has no reason,
// so its kind says more than a dash.
func reasonText(ev *event.Event) string {
	if name := event.ReasonText(ev.Reason, ev.ReasonCode); name != "" {
		return name
	}
	if ev.Kind != event.KindDrop {
		return string(ev.Kind)
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
