package tracer

import (
	"strconv"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/output"
)

// kindName names an event kind as JSON and text show it.
func kindName(k uint8) string {
	switch bpf.DropEventKind(k) {
	case bpf.DropEventKindEVENT_DROP:
		return "drop"
	case bpf.DropEventKindEVENT_TCP_RETRANSMIT:
		return output.KindRetransmit
	case bpf.DropEventKindEVENT_TCP_RETRANSMIT_SYNACK:
		return output.KindRetransmitSynack
	case bpf.DropEventKindEVENT_TCP_RESET_SENT:
		return output.KindResetSent
	case bpf.DropEventKindEVENT_TCP_RESET_RECEIVED:
		return output.KindResetReceived
	}
	return "kind" + strconv.Itoa(int(k))
}

func decodeSock(re *bpf.DropEvent, ev *output.Event) {
	ev.TCPState = kernel.TCPStateName(re.TcpState)
	ev.SockCookie = re.SockCookie
	ev.SockSrcLocal = re.SkSrcLocal != 0
}
