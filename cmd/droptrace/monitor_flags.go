package main

import (
	"net"
	"strconv"
)

// maxSummaryKeys bounds --summary-keys: the kernel map preallocates a
// counter per key and CPU.
const maxSummaryKeys = 1 << 20

// validateMonitoring checks --summary, --interval and --metrics-addr, and
// turns a bare --metrics-addr port into a loopback address.
func validateMonitoring(cfg *config) error {
	switch {
	case cfg.interval <= 0:
		return usagef("--interval: %v is not positive", cfg.interval)
	case cfg.summaryKeys < 1 || cfg.summaryKeys > maxSummaryKeys:
		return usagef("--summary-keys: %d is not between 1 and %d", cfg.summaryKeys, maxSummaryKeys)
	case cfg.summary && cfg.pcap != "":
		return usagef("--output-pcap: --summary sends no packets to user space, so there is nothing to write")
	case cfg.summary && cfg.count > 0:
		return usagef("--count: --summary counts drops without reporting each; use --duration")
	}
	if cfg.metricsAddr == "" {
		return nil
	}
	addr, err := listenAddr(cfg.metricsAddr)
	if err != nil {
		return usagef("--metrics-addr: %v", err)
	}
	cfg.metricsAddr = addr
	return nil
}

// listenAddr accepts PORT (on 127.0.0.1), :PORT (every address) and
// HOST:PORT with an IP address or a name.
func listenAddr(s string) (string, error) {
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
