package main

import "github.com/droptrace/droptrace/metrics"

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
	addr, err := metrics.ParseAddr(cfg.metricsAddr)
	if err != nil {
		return usagef("--metrics-addr: %v", err)
	}
	cfg.metricsAddr = addr
	return nil
}
