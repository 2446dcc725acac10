package event

import "strconv"

// TCPInfo is a socket's struct tcp_info as sock_diag reported it shortly
// after the event, plus its queues.
type TCPInfo struct {
	Gone         bool   // the socket no longer existed (closed, or only its TIME_WAIT remains); the rest is zero but State
	State        string // e.g. "ESTABLISHED", at the look-up
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
