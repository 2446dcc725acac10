package main

import (
	"strings"
)

// validateTCP rejects filters that would exclude every TCP event.
func validateTCP(cfg *config) error {
	if !cfg.tcp {
		return nil
	}
	if p := strings.ToLower(cfg.filters.Proto); p != "" && p != "tcp" {
		return usagef("--filter-proto: %q excludes the TCP events --tcp asks for; use --filter-proto tcp or none", cfg.filters.Proto)
	}
	if cfg.summary {
		return usagef("--tcp: not supported with --summary, which counts drops only")
	}
	if cfg.filters.Ifname != "" {
		return usagef("--filter-ifname: TCP events belong to sockets, not interfaces, so none would match; leave it out with --tcp")
	}
	return nil
}
