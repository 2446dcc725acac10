package tracer

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"time"
	"unsafe"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/event"
)

// Symbolizer names a kernel address (kernel.Symbols).
type Symbolizer interface {
	Symbolize(addr uint64) string
}

// ReasonNamer names a drop reason code (kernel.DropReasons).
type ReasonNamer interface {
	Name(code uint32) string
}

// Decoder turns raw ring buffer records into events. Decode is not safe
// for concurrent use: it keeps the last location and device it named,
// which most events share with the one before.
type Decoder struct {
	Symbols Symbolizer
	Reasons ReasonNamer // nil on kernels without drop reasons
	clock   clock

	lastLoc    uint64
	lastSym    string
	names      [nameCacheSize]devName
	lastName   int // the entry of names hit or filled last, tried first
	lastReason reasonName
}

// nameCacheSize is how many device names the decoder keeps: a path's
// steps alternate between the devices at both ends of a veth (and a
// blind step has none), so one name would be made again at every step.
const nameCacheSize = 4

// devName is a device name as the kernel wrote it and as a string.
type devName struct {
	raw  [16]int8
	name string
	ok   bool
}

// reasonName is the last drop reason named, kept because most events of
// a storm share it (a map look-up per event otherwise).
type reasonName struct {
	code uint32
	name string
	ok   bool
}

// NewDecoder returns a Decoder that names locations and reasons.
func NewDecoder(syms Symbolizer, reasons ReasonNamer) *Decoder {
	return &Decoder{Symbols: syms, Reasons: reasons, clock: newClock()}
}

const (
	eventSize   = int(unsafe.Sizeof(bpf.DropEvent{}))
	sampleSize  = int(unsafe.Sizeof(bpf.DropTcpSample{}))
	nftRuleSize = int(unsafe.Sizeof(bpf.DropNftRuleSample{}))
)

// Decode fills ev from one record. ev.Packet aliases nothing in raw.
func (d *Decoder) Decode(raw []byte, ev *event.Event) error {
	if len(raw) < eventSize {
		return fmt.Errorf("short event: %d bytes, want at least %d", len(raw), eventSize)
	}
	return d.decode(raw, ev)
}

// decode is Decode without the length check: raw holds at least
// eventSize bytes.
func (d *Decoder) decode(raw []byte, ev *event.Event) error {
	var re bpf.DropEvent
	// The record is the C struct in host layout; copying it out costs far
	// less than a reflective decode at a million events per second.
	re = *(*bpf.DropEvent)(unsafe.Pointer(&raw[0]))
	*ev = event.Event{
		Time:         d.clock.wall(re.Ts),
		Kind:         kindOf(re.Kind),
		ReasonCode:   re.Reason,
		LocationAddr: re.Location,
		Netns:        re.Netns,
		Ifindex:      re.Ifindex,
		Ifname:       d.ifname(&re.Ifname),
		Mark:         re.Mark,
		EtherType:    swap16(re.Protocol),
		Len:          re.Len,
		CPU:          re.Cpu,
		Skb:          re.Skb,
	}
	if d.Reasons != nil && ev.Kind == event.KindDrop {
		if !d.lastReason.ok || d.lastReason.code != re.Reason {
			d.lastReason = reasonName{code: re.Reason, name: d.Reasons.Name(re.Reason), ok: true}
		}
		ev.Reason = d.lastReason.name
	}
	if d.Symbols != nil && re.Location != 0 {
		if re.Location != d.lastLoc {
			d.lastLoc, d.lastSym = re.Location, d.Symbols.Symbolize(re.Location)
		}
		ev.Location = d.lastSym
	}
	decodeTuple(&re, ev)
	decodeSock(&re, ev)
	decodeCt(&re, ev)
	decodeReply(&re, ev)
	rest := raw[eventSize:]
	if re.HasTcpSample != 0 {
		if len(rest) < sampleSize {
			return fmt.Errorf("event claims a TCP sample of %d bytes, has %d", sampleSize, len(rest))
		}
		decodeSample(rest, ev)
		rest = rest[sampleSize:]
	}
	if re.HasNftRule != 0 {
		if len(rest) < nftRuleSize {
			return fmt.Errorf("event claims an nft rule of %d bytes, has %d", nftRuleSize, len(rest))
		}
		decodeNftRule(rest, ev)
		rest = rest[nftRuleSize:]
	}
	return decodePacket(&re, rest, ev)
}

// ifname returns the device name in b, reusing the string of one of the
// last few names; the others are made in the place of the entry after the
// last one used.
func (d *Decoder) ifname(b *[16]int8) string {
	// No device: BPF wrote only the first byte, after which a reused
	// buffer holds what an earlier name left, so each such leftover
	// would take an entry of its own (following one iperf3 flow over
	// veth, five raw names thrashed the four entries: a string was made
	// about every twelfth step).
	if b[0] == 0 {
		return ""
	}
	for i := range nameCacheSize {
		j := (d.lastName + i) % nameCacheSize
		if e := &d.names[j]; e.ok && e.raw == *b {
			d.lastName = j
			return e.name
		}
	}
	d.lastName = (d.lastName + 1) % nameCacheSize
	d.names[d.lastName] = devName{raw: *b, name: cString(b[:]), ok: true}
	return d.names[d.lastName].name
}

func decodeTuple(re *bpf.DropEvent, ev *event.Event) {
	switch re.Family {
	case 4:
		ev.Src = netip.AddrFrom4(addrBytes4(re.Saddr[0]))
		ev.Dst = netip.AddrFrom4(addrBytes4(re.Daddr[0]))
	case 6:
		ev.Src = netip.AddrFrom16(addrBytes16(re.Saddr))
		ev.Dst = netip.AddrFrom16(addrBytes16(re.Daddr))
	default:
		return
	}
	ev.Proto = protoName(re.L4proto)
	ev.Sport = swap16(re.Sport)
	ev.Dport = swap16(re.Dport)
	if re.L4proto == 6 {
		ev.TCPFlags = re.TcpFlags
	}
}

func decodePacket(re *bpf.DropEvent, data []byte, ev *event.Event) error {
	if re.CapLen == 0 {
		return nil
	}
	if int(re.CapLen) > len(data) {
		return fmt.Errorf("event claims %d packet bytes, has %d", re.CapLen, len(data))
	}
	ev.Packet = append([]byte(nil), data[:re.CapLen]...)
	ev.OrigLen = re.OrigLen
	switch re.Link {
	case uint8(bpf.DropLinkKindLINK_ETHERNET):
		ev.LinkType = event.LinkEthernet
	case uint8(bpf.DropLinkKindLINK_RAW_IP):
		ev.LinkType = event.LinkRawIP
	}
	return nil
}

func protoName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmp6"
	}
	return strconv.Itoa(int(p))
}

// addrBytes4 returns a word's bytes as they lay in kernel memory.
func addrBytes4(w uint32) (b [4]byte) {
	binary.NativeEndian.PutUint32(b[:], w)
	return b
}

func addrBytes16(w [4]uint32) (b [16]byte) {
	for i, v := range w {
		binary.NativeEndian.PutUint32(b[i*4:], v)
	}
	return b
}

// swap16 turns a network-order field, read as a host integer, into its value.
func swap16(v uint16) uint16 {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], v)
	return binary.BigEndian.Uint16(b[:])
}

func cString(b []int8) string {
	n := 0
	for n < len(b) && b[n] != 0 {
		n++
	}
	s := make([]byte, n)
	for i := range s {
		s[i] = byte(b[i])
	}
	return string(s)
}

// clock converts the kernel's monotonic timestamps to wall-clock time.
type clock struct{ offset int64 }

func newClock() clock {
	return clock{offset: time.Now().UnixNano() - monotonicNow()}
}

func (c clock) wall(mono uint64) time.Time {
	return time.Unix(0, int64(mono)+c.offset)
}
