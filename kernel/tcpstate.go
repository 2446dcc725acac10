package kernel

import "strconv"

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
