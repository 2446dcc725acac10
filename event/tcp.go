package event

import "strconv"

// TCPInfo is a socket's struct tcp_info and queues. State through
// SndSsthresh are read by the kernel program from the socket at the event
// when AtEvent is set; Gone, RcvQueue, SendQueue and DeliveryRate come
// from a sock_diag look-up after the event when LookedUp is set (and,
// without AtEvent, the rest too).
type TCPInfo struct {
	Gone         bool   // the look-up found no socket (closed, or only its TIME_WAIT remains)
	State        string // e.g. "ESTABLISHED"
	RTT          uint32 // smoothed RTT, µs
	RTTVar       uint32 // µs
	RTO          uint32 // retransmission timeout, µs
	Retransmits  uint8  // unanswered retransmissions of the current RTO episode
	TotalRetrans uint32 // retransmitted segments over the connection's life
	Lost         uint32
	Sacked       uint32
	Unacked      uint32
	SndCwnd      uint32 // segments
	SndSsthresh  uint32 // segments
	RcvQueue     uint32 // bytes
	SendQueue    uint32 // bytes
	DeliveryRate uint64 // bytes per second
	AtEvent      bool   // State through SndSsthresh were read at the event
	LookedUp     bool   // sock_diag answered a look-up after the event
}

// tcpStates names the TCP states, which are user ABI (inet_diag's
// idiag_state, /proc/net/tcp), as the kernel's TCP_* constants do.
var tcpStates = [...]string{
	1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
	6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
	11: "CLOSING", 12: "NEW_SYN_RECV", 13: "BOUND_INACTIVE",
}

// TCPStateName names a TCP state, e.g. 1 is "ESTABLISHED"; 0, which
// means no socket, is "".
func TCPStateName(s uint8) string {
	switch {
	case s == 0:
		return ""
	case int(s) < len(tcpStates) && tcpStates[s] != "":
		return tcpStates[s]
	}
	return "STATE" + strconv.Itoa(int(s))
}
