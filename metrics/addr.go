package metrics

import (
	"net"
	"strconv"
)

// ParseAddr checks a --metrics-addr value and turns a bare port into a
// loopback address. It accepts PORT (on 127.0.0.1), :PORT (every address) and
// HOST:PORT with an IP address or a name.
func ParseAddr(s string) (string, error) {
	if _, err := strconv.ParseUint(s, 10, 16); err == nil {
		return net.JoinHostPort("127.0.0.1", s), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", &net.AddrError{Err: "port is not a number from 0 to 65535", Addr: s}
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return "", &net.AddrError{Err: "not an IP address or host name", Addr: host}
	}
	return s, nil
}

func validHostname(h string) bool {
	for _, c := range h {
		ok := c == '-' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			return false
		}
	}
	return len(h) <= 253
}
