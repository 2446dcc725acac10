package tracer

import (
	"strconv"

	"github.com/droptrace/droptrace/bpf"
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

// tcpStates names the TCP states, which are user ABI (inet_diag's
// idiag_state, /proc/net/tcp), as ss names them.
var tcpStates = [...]string{
	1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
	6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
	11: "CLOSING", 12: "NEW_SYN_RECV", 13: "BOUND_INACTIVE",
}

// TCPStateName names a TCP state number, e.g. 1 is "ESTABLISHED"; "" for
// 0, which means no socket.
func TCPStateName(s uint8) string {
	if int(s) < len(tcpStates) && tcpStates[s] != "" {
		return tcpStates[s]
	}
	if s == 0 {
		return ""
	}
	return "STATE" + strconv.Itoa(int(s))
}

func decodeSock(re *bpf.DropEvent, ev *output.Event) {
	ev.TCPState = TCPStateName(re.TcpState)
	ev.SockCookie = re.SockCookie
	ev.SockSrcLocal = re.SkSrcLocal != 0
}
