package output

// tcpFlagLetters are the letters of the TCP flags from bit 0 (FIN) to bit
// 7 (CWR): FIN SYN RST PSH ACK URG ECE CWR. ACK is "A" where tcpdump
// prints ".", so that a SYN-ACK reads "SA" and no letter is punctuation.
const tcpFlagLetters = "FSRPAUEC"

// TCPFlagsText is the TCP flags byte as letters in bit order, e.g. "SA"
// for SYN and ACK, "FPA" for FIN, PSH and ACK; "" for none (or not TCP).
func TCPFlagsText(flags uint8) string {
	if flags == 0 {
		return ""
	}
	var b [8]byte
	return string(appendTCPFlags(b[:0], flags))
}

// appendTCPFlags appends what TCPFlagsText returns, without allocating.
func appendTCPFlags(b []byte, flags uint8) []byte {
	for i := range 8 {
		if flags&(1<<i) != 0 {
			b = append(b, tcpFlagLetters[i])
		}
	}
	return b
}
