package tracer

import (
	"strconv"
	"unsafe"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/event"
)

// kinds maps the programs' enum event_kind to the event model's kinds.
var kinds = [...]event.Kind{
	bpf.DropEventKindEVENT_DROP:                  event.KindDrop,
	bpf.DropEventKindEVENT_TRACE:                 event.KindTrace,
	bpf.DropEventKindEVENT_CONSUME:               event.KindConsume,
	bpf.DropEventKindEVENT_TCP_RETRANSMIT:        event.KindRetransmit,
	bpf.DropEventKindEVENT_TCP_RETRANSMIT_SYNACK: event.KindRetransmitSynack,
	bpf.DropEventKindEVENT_TCP_RESET_SENT:        event.KindResetSent,
	bpf.DropEventKindEVENT_TCP_RESET_RECEIVED:    event.KindResetReceived,
}

// kindOf names the kind a record carries.
func kindOf(k uint8) event.Kind {
	if int(k) < len(kinds) && kinds[k] != "" {
		return kinds[k]
	}
	return event.Kind("kind" + strconv.Itoa(int(k)))
}

func decodeSock(re *bpf.DropEvent, ev *event.Event) {
	ev.TCPState = event.TCPStateName(re.TcpState)
	ev.SockCookie = re.SockCookie
	ev.SockSrcLocal = re.SkSrcLocal != 0
}

// ctStateRead is CT_STATE_READ: the drop program read the skb's conntrack.
const ctStateRead = 0x80

// decodeCt keeps the conntrack state a drop program read.
func decodeCt(re *bpf.DropEvent, ev *event.Event) {
	if ev.Kind == event.KindDrop && re.CtState&ctStateRead != 0 {
		ev.CTState, ev.CTStatus = re.CtState&^ctStateRead, re.CtStatus
	}
}

// decodeSample fills ev.TCPInfo from the struct tcp_sample at the start of
// raw, which the program read from the socket at the event. ev.TCPState,
// read with it, is its state.
func decodeSample(raw []byte, ev *event.Event) {
	s := *(*bpf.DropTcpSample)(unsafe.Pointer(&raw[0]))
	ev.TCPInfo = &event.TCPInfo{
		AtEvent: true, State: ev.TCPState,
		RTT: s.RttUs, RTTVar: s.RttvarUs, RTO: s.RtoUs,
		Retransmits: s.Retransmits, TotalRetrans: s.TotalRetrans,
		Lost: s.Lost, Sacked: s.Sacked, Unacked: s.Unacked,
		SndCwnd: s.SndCwnd, SndSsthresh: s.SndSsthresh,
	}
}
