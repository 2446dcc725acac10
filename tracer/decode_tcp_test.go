package tracer

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/event"
)

// sampleRecord returns the record of re followed by its TCP sample and
// the packet bytes, as drop.c and tcp.c lay them out.
func sampleRecord(re *bpf.DropEvent, s *bpf.DropTcpSample, pkt []byte) []byte {
	b := dropRecord(re, nil)
	b = append(b, unsafe.Slice((*byte)(unsafe.Pointer(s)), unsafe.Sizeof(*s))...)
	return append(b, pkt...)
}

// TestDecodeTCPSample: a record with has_tcp_sample carries the socket's
// state read at the event; the packet after it comes through whole, and a
// record without the flag has no tcp_info.
func TestDecodeTCPSample(t *testing.T) {
	s := bpf.DropTcpSample{RttUs: 1234, RttvarUs: 567, RtoUs: 204000, TotalRetrans: 7,
		Lost: 3, Sacked: 2, Unacked: 9, SndCwnd: 10, SndSsthresh: 0x7fffffff, Retransmits: 4}
	want := &event.TCPInfo{AtEvent: true, State: "ESTABLISHED", RTT: 1234, RTTVar: 567, RTO: 204000,
		Retransmits: 4, TotalRetrans: 7, Lost: 3, Sacked: 2, Unacked: 9, SndCwnd: 10, SndSsthresh: 0x7fffffff}
	pkt := ipv4(protoTCP, nil, 0, l4(40000, 443, 20))
	tests := []struct {
		name string
		kind bpf.DropEventKind
		pkt  []byte
	}{
		{"retransmit", bpf.DropEventKindEVENT_TCP_RETRANSMIT, nil},
		{"drop with packet", bpf.DropEventKindEVENT_DROP, pkt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := bpf.DropEvent{Kind: uint8(tt.kind), TcpState: 1, SockCookie: 42, SkSrcLocal: 1,
				HasTcpSample: 1, CapLen: uint16(len(tt.pkt)), Link: uint8(bpf.DropLinkKindLINK_RAW_IP)}
			d, _ := testDecoder()
			var ev event.Event
			if err := d.Decode(sampleRecord(&re, &s, tt.pkt), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.TCPInfo == nil || *ev.TCPInfo != *want {
				t.Errorf("TCPInfo = %+v, want %+v", ev.TCPInfo, want)
			}
			if !bytes.Equal(ev.Packet, tt.pkt) {
				t.Errorf("Packet = %x, want %x", ev.Packet, tt.pkt)
			}
		})
	}
	t.Run("without sample", func(t *testing.T) {
		re := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_DROP), TcpState: 1, CapLen: uint16(len(pkt))}
		d, _ := testDecoder()
		var ev event.Event
		if err := d.Decode(dropRecord(&re, pkt), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.TCPInfo != nil || !bytes.Equal(ev.Packet, pkt) {
			t.Errorf("TCPInfo = %+v, packet %x: want none and the packet", ev.TCPInfo, ev.Packet)
		}
	})
	t.Run("truncated sample", func(t *testing.T) {
		re := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_TCP_RETRANSMIT), HasTcpSample: 1}
		d, _ := testDecoder()
		var ev event.Event
		if err := d.Decode(dropRecord(&re, make([]byte, 8)), &ev); err == nil {
			t.Errorf("decoded a record whose sample is cut short")
		}
	})
}
