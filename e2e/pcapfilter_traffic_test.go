package e2e

import (
	"fmt"
	"net"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// The differential test's traffic: Ethernet frames, each one unique (its
// IPv4 id or IPv6 flow label is its index), sent from the client to the
// server's MAC address, where a DROP-all rule drops every one at INPUT.
// No fragments: the kernel reassembles them before INPUT and frees the
// pieces only when reassembly times out.

var (
	pcapSrc4 = []string{"10.199.1.1", "10.199.1.9", "192.0.2.7", "10.200.3.4"}
	pcapDst4 = []string{"10.199.1.2", "10.199.1.3"}
	pcapSrc6 = []string{"fd99:1::1", "fd99:1::9", "2001:db8::7", "fd99:2::4"}
	pcapDst6 = []string{"fd99:1::2", "fd99:1::3"}
	// pcapPorts are (source, destination) pairs.
	pcapPorts = [][2]uint16{
		{40000, 22}, {40001, 80}, {443, 40002}, {40003, 8000}, {40004, 8050},
		{40005, 8100}, {40006, 8101}, {53, 53}, {1024, 65535}, {5353, 123},
	}
	// pcapFlags are TCP flag bytes: SYN, SYN-ACK, ACK, PSH-ACK, FIN-ACK,
	// RST, RST-ACK, SYN with ECE and CWR, URG-PSH-ACK.
	pcapFlags = []uint8{0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0xc2, 0x38}
	// pcapPayloads are payload sizes, for the length primitives. Every
	// frame is at least 60 bytes: gopacket pads shorter ones, the kernel
	// trims the padding off at ip_rcv, and droptrace would see a shorter
	// packet than the capture holds.
	pcapPayloads = []int{20, 60, 600, 1200, 33}
	// pcapICMP4 and pcapICMP6 are ICMP types: echo request and reply,
	// unreachable, time exceeded, timestamp; for IPv6 echo request and
	// reply, unreachable, packet too big.
	pcapICMP4 = []uint8{8, 0, 3, 11, 13}
	pcapICMP6 = []uint8{128, 129, 1, 2}
)

// frameSpec is one frame of the traffic.
type frameSpec struct {
	v6          bool
	proto       layers.IPProtocol
	src, dst    string
	sport       uint16
	dport       uint16
	flags       uint8 // TCP
	icmpType    uint8
	payload     int
	tos, ttl    uint8
	ipv4Options bool // 4 bytes of options (IHL 6) before the transport header
}

// pcapTrafficSpecs varies every field over the lists above, with
// different strides so that the combinations differ.
func pcapTrafficSpecs() []frameSpec {
	var specs []frameSpec
	for i := range 48 {
		specs = append(specs, frameSpec{v6: i%3 == 2, proto: layers.IPProtocolTCP, sport: pcapPorts[i%len(pcapPorts)][0],
			dport: pcapPorts[i%len(pcapPorts)][1], flags: pcapFlags[i%len(pcapFlags)], payload: pcapPayloads[i%len(pcapPayloads)],
			ipv4Options: i%7 == 3, tos: uint8(i%4) << 3})
	}
	for i := range 20 {
		specs = append(specs, frameSpec{v6: i%2 == 1, proto: layers.IPProtocolUDP, sport: pcapPorts[(i+3)%len(pcapPorts)][0],
			dport: pcapPorts[(i+3)%len(pcapPorts)][1], payload: pcapPayloads[(i+1)%len(pcapPayloads)], ipv4Options: i%5 == 4})
	}
	for i := range 10 {
		specs = append(specs, frameSpec{proto: layers.IPProtocolICMPv4, icmpType: pcapICMP4[i%len(pcapICMP4)], payload: pcapPayloads[i%len(pcapPayloads)]})
	}
	for i := range 8 {
		specs = append(specs, frameSpec{v6: true, proto: layers.IPProtocolICMPv6, icmpType: pcapICMP6[i%len(pcapICMP6)], payload: pcapPayloads[(i+2)%len(pcapPayloads)]})
	}
	for i := range specs {
		s := &specs[i]
		s.ttl = uint8(1 + i*7%128)
		if s.v6 {
			s.src, s.dst = pcapSrc6[i%len(pcapSrc6)], pcapDst6[i/3%len(pcapDst6)]
		} else {
			s.src, s.dst = pcapSrc4[i%len(pcapSrc4)], pcapDst4[i/3%len(pcapDst4)]
		}
	}
	return specs
}

// pcapTraffic builds the frames of specs from srcMAC to dstMAC.
func pcapTraffic(specs []frameSpec, srcMAC, dstMAC net.HardwareAddr) ([][]byte, error) {
	frames := make([][]byte, len(specs))
	for i, s := range specs {
		f, err := buildFrame(s, uint16(i+1), srcMAC, dstMAC)
		if err != nil {
			return nil, fmt.Errorf("frame %d (%+v): %w", i, s, err)
		}
		frames[i] = f
	}
	return frames, nil
}

func buildFrame(s frameSpec, id uint16, srcMAC, dstMAC net.HardwareAddr) ([]byte, error) {
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}
	var ip gopacket.NetworkLayer
	if s.v6 {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip = &layers.IPv6{Version: 6, TrafficClass: s.tos, FlowLabel: uint32(id), NextHeader: s.proto,
			HopLimit: s.ttl, SrcIP: net.ParseIP(s.src), DstIP: net.ParseIP(s.dst)}
	} else {
		ip4 := &layers.IPv4{Version: 4, IHL: 5, TOS: s.tos, Id: id, TTL: s.ttl, Protocol: s.proto,
			SrcIP: net.ParseIP(s.src).To4(), DstIP: net.ParseIP(s.dst).To4()}
		if s.ipv4Options {
			ip4.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
		}
		ip = ip4
	}
	l4, err := transport(s, ip)
	if err != nil {
		return nil, err
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	payload := gopacket.Payload(make([]byte, s.payload))
	err = gopacket.SerializeLayers(buf, opts, eth, ip.(gopacket.SerializableLayer), l4, payload)
	return buf.Bytes(), err
}

func transport(s frameSpec, ip gopacket.NetworkLayer) (gopacket.SerializableLayer, error) {
	switch s.proto {
	case layers.IPProtocolTCP:
		f := s.flags
		tcp := &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport), Seq: 1000, Window: 512, DataOffset: 5,
			FIN: f&0x01 != 0, SYN: f&0x02 != 0, RST: f&0x04 != 0, PSH: f&0x08 != 0,
			ACK: f&0x10 != 0, URG: f&0x20 != 0, ECE: f&0x40 != 0, CWR: f&0x80 != 0}
		if tcp.ACK {
			tcp.Ack = 2000
		}
		return tcp, tcp.SetNetworkLayerForChecksum(ip)
	case layers.IPProtocolUDP:
		udp := &layers.UDP{SrcPort: layers.UDPPort(s.sport), DstPort: layers.UDPPort(s.dport)}
		return udp, udp.SetNetworkLayerForChecksum(ip)
	case layers.IPProtocolICMPv4:
		return &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(s.icmpType, 0), Id: 7, Seq: 1}, nil
	case layers.IPProtocolICMPv6:
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(s.icmpType, 0)}
		return icmp, icmp.SetNetworkLayerForChecksum(ip)
	}
	return nil, fmt.Errorf("no transport for %v", s.proto)
}
