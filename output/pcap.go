package output

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/droptrace/droptrace/event"
)

const ethHeaderLen = 14

// Every interface in the file is Ethernet, and raw IP packets get a
// synthesized Ethernet header, because libpcap (and so tcpdump, as of
// libpcap 1.10) stops reading a pcapng file at the first interface whose
// link type differs from the first one's. The IDB description says so.
const rawIPDescription = "raw IP; the Ethernet header with zero addresses was added by droptrace"

// pcapng readers such as libpcap reject a file without any interface, so
// one is written up front: an empty capture, or one cut short by a kill
// before the first packet, is still a valid file.
const placeholderDescription = "no packets; present so that the file is valid before the first packet"

type ifaceKey struct {
	name string
	link event.LinkType
}

// Pcap writes the packet bytes of events to a pcapng stream, one interface
// per interface name and link type, with the event's reason, location,
// namespace and skb address as each packet's comment. Events without
// packet bytes are counted, not written.
type Pcap struct {
	ng      *pcapgo.NgWriter
	file    io.Closer // nil when the caller owns the stream
	ifaces  map[ifaceKey]int
	skipped uint64
}

var _ event.Writer = (*Pcap)(nil)

// OpenPcap opens the file at path as OpenPcapContext does, without a
// way to abandon the open.
func OpenPcap(path string) (*Pcap, error) {
	return OpenPcapContext(context.Background(), path, nil)
}

// OpenPcapContext opens path with OpenFile (no symbolic link followed, a
// new file readable by its owner only, FIFOs and devices as streams) and
// writes the pcapng header to it. A path of "-" means standard output,
// which Close leaves open.
func OpenPcapContext(ctx context.Context, path string, notice func(string)) (*Pcap, error) {
	if path == "-" {
		return NewPcap(os.Stdout)
	}
	f, err := OpenFile(ctx, path, notice)
	if err != nil {
		return nil, err
	}
	p, err := NewPcap(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	p.file = f
	return p, nil
}

// NewPcap writes the pcapng header to w and returns a Pcap that writes to
// it. Close flushes but does not close w.
func NewPcap(w io.Writer) (*Pcap, error) {
	opts := pcapgo.DefaultNgWriterOptions
	opts.SectionInfo.Application = "droptrace"
	placeholder := newInterface("droptrace", placeholderDescription)
	ng, err := pcapgo.NewNgWriterInterface(w, placeholder, opts)
	if err != nil {
		return nil, fmt.Errorf("writing pcapng header: %w", err)
	}
	p := &Pcap{ng: ng, ifaces: make(map[ifaceKey]int)}
	if err := p.flush(); err != nil {
		return nil, err
	}
	return p, nil
}

// Write writes ev's packet and flushes it, so that a killed run leaves a
// readable file.
func (p *Pcap) Write(ev *event.Event) error {
	if ev.LinkType == event.LinkNone || len(ev.Packet) == 0 {
		if ev.Kind == event.KindDrop { // other events (TCP) carry no packet
			p.skipped++
		}
		return nil
	}
	frame, err := ethernetFrame(ev)
	if err != nil {
		return err
	}
	id, err := p.iface(ev)
	if err != nil {
		return err
	}
	ci := gopacket.CaptureInfo{
		Timestamp:      ev.Time,
		CaptureLength:  len(frame),
		Length:         max(len(frame), int(ev.OrigLen)+len(frame)-len(ev.Packet)),
		InterfaceIndex: id,
	}
	opts := pcapgo.NgPacketOptions{Comments: []string{packetComment(ev)}}
	if err := p.ng.WritePacketWithOptions(ci, frame, opts); err != nil {
		return fmt.Errorf("writing pcapng packet: %w", err)
	}
	return p.flush()
}

// Skipped returns how many events had no packet bytes to write.
func (p *Pcap) Skipped() uint64 { return p.skipped }

// Close flushes the stream and closes the file if OpenPcap created it.
func (p *Pcap) Close() error {
	err := p.flush()
	if p.file != nil {
		if cerr := p.file.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("closing pcap output: %w", cerr))
		}
	}
	return err
}

func (p *Pcap) flush() error {
	if err := p.ng.Flush(); err != nil {
		return fmt.Errorf("flushing pcapng: %w", err)
	}
	return nil
}

// iface returns the interface id for ev, writing an interface description
// block the first time its name and link type are seen.
func (p *Pcap) iface(ev *event.Event) (int, error) {
	key := ifaceKey{name: ev.Ifname, link: ev.LinkType}
	if id, ok := p.ifaces[key]; ok {
		return id, nil
	}
	desc := ""
	if ev.LinkType == event.LinkRawIP {
		desc = rawIPDescription
	}
	id, err := p.ng.AddInterface(newInterface(ev.Ifname, desc))
	if err != nil {
		return 0, fmt.Errorf("writing pcapng interface %q: %w", ev.Ifname, err)
	}
	p.ifaces[key] = id
	return id, nil
}

func newInterface(name, description string) pcapgo.NgInterface {
	return pcapgo.NgInterface{
		Name:                name,
		Description:         description,
		OS:                  runtime.GOOS,
		LinkType:            layers.LinkTypeEthernet,
		TimestampResolution: 9, // nanoseconds, what the writer always uses
	}
}

// ethernetFrame returns ev's packet as an Ethernet frame.
func ethernetFrame(ev *event.Event) ([]byte, error) {
	switch ev.LinkType {
	case event.LinkEthernet:
		return ev.Packet, nil
	case event.LinkRawIP:
		frame := make([]byte, ethHeaderLen, ethHeaderLen+len(ev.Packet))
		binary.BigEndian.PutUint16(frame[12:], uint16(rawEtherType(ev)))
		return append(frame, ev.Packet...), nil
	default:
		return nil, fmt.Errorf("writing pcapng packet: unknown link type %d", ev.LinkType)
	}
}

// rawEtherType trusts the IP version in the bytes over skb->protocol,
// because the bytes are what readers will decode.
func rawEtherType(ev *event.Event) layers.EthernetType {
	switch ev.Packet[0] >> 4 {
	case 4:
		return layers.EthernetTypeIPv4
	case 6:
		return layers.EthernetTypeIPv6
	default:
		return layers.EthernetType(ev.EtherType)
	}
}

// packetComment reads like "drop reason=NETFILTER_DROP location=... skb=0x...",
// with the event kind first and unknown fields left out.
func packetComment(ev *event.Event) string {
	var b strings.Builder
	b.WriteString(orDash(string(ev.Kind)))
	addField(&b, "reason", event.ReasonText(ev.Reason, ev.ReasonCode))
	addField(&b, "location", ev.Location)
	addField(&b, "netns", netnsText(ev.Netns))
	if p := ev.Pod; p != nil {
		addField(&b, "netns_name", p.NetnsName)
		addField(&b, "pod", p.Ref())
		addField(&b, "container", p.Container)
	}
	addField(&b, "if", ev.Ifname)
	addField(&b, "skb", "0x"+strconv.FormatUint(ev.Skb, 16))
	addField(&b, "netfilter", netfilterComment(ev.Netfilter))
	if ev.Explain != nil {
		b.WriteString("\n")
		b.WriteString(explainComment(ev.Explain))
	}
	return b.String()
}

func addField(b *strings.Builder, key, value string) {
	if value == "" {
		return
	}
	b.WriteString(" " + key + "=" + value)
}
