package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/droptrace/droptrace/tracer"
)

// validateTCP rejects filters that would exclude every TCP event.
func validateTCP(cfg *config) error {
	if !cfg.tcp {
		return nil
	}
	if p := strings.ToLower(cfg.filters.Proto); p != "" && p != "tcp" {
		return usagef("--filter-proto: %q excludes the TCP events --tcp asks for; use --filter-proto tcp or none", cfg.filters.Proto)
	}
	if cfg.filters.Ifname != "" {
		return usagef("--filter-ifname: TCP events belong to sockets, not interfaces, so none would match; leave it out with --tcp")
	}
	return nil
}

// announceTCP says how the TCP programs are attached.
func announceTCP(t *tracer.Tracer) {
	if t.TCPMode() == "" {
		return
	}
	if fb := t.TCPFallback(); fb != "" {
		fmt.Fprintf(os.Stderr, "droptrace: TCP events not using tp_btf: %s\n", fb)
	}
	fmt.Fprintf(os.Stderr, "droptrace: tracing TCP retransmits and resets via %s\n", t.TCPMode())
}
