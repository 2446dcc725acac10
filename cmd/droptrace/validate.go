package main

import (
	"os"
	"slices"
	"strings"

	"github.com/droptrace/droptrace/cli"
	"github.com/droptrace/droptrace/metrics"
	"github.com/droptrace/droptrace/output"
	"github.com/droptrace/droptrace/tracer"
)

// maxSummaryKeys bounds --summary-keys: the kernel map preallocates a
// counter per key and CPU.
const maxSummaryKeys = 1 << 20

func validate(cfg *config) error {
	usagef := cli.Usagef
	switch {
	case !slices.Contains(output.Formats(), cfg.output):
		return usagef("--output: %q is not an output format (%s)", cfg.output, strings.Join(output.Formats(), ", "))
	case cfg.hook != tracer.HookAuto && cfg.hook != tracer.HookTpBTF && cfg.hook != tracer.HookTracepoint:
		return usagef("--drop-hook: %q is not a hook (auto, tp_btf, tracepoint)", cfg.hook)
	case cfg.snaplen < 1 || cfg.snaplen > tracer.MaxSnaplen:
		return usagef("--output-snaplen: %d is out of range (1-%d)", cfg.snaplen, tracer.MaxSnaplen)
	case cfg.count < 0:
		return usagef("--count: %d is negative", cfg.count)
	case cfg.duration < 0:
		return usagef("--duration: %v is negative", cfg.duration)
	case cfg.pcap == "-" && cfg.outputSet:
		return usagef("--output-pcap: '-' takes stdout, which --output %s also writes to; write the pcap to a file", cfg.output)
	case cfg.pcap != "" && cfg.pcap != "-" && output.SameFile(cfg.pcap, os.Stdout):
		return usagef("--output-pcap: %s is stdout, which --output %s also writes to; use '-w -' for the pcap alone on stdout", cfg.pcap, cfg.output)
	case cfg.filterPod != "" && cfg.annotate.CRIEndpoint == "none":
		return usagef("--filter-pod: pods are found through the CRI runtime, which --cri-endpoint none turns off")
	}
	if err := validateTCP(cfg); err != nil {
		return err
	}
	return validateMonitoring(cfg)
}

// validateTCP rejects filters that would exclude every TCP event.
func validateTCP(cfg *config) error {
	if !cfg.tcp {
		return nil
	}
	switch p := strings.ToLower(cfg.filters.Proto); {
	case p != "" && p != "tcp":
		return cli.Usagef("--filter-proto: %q excludes the TCP events --tcp asks for; use --filter-proto tcp or none", cfg.filters.Proto)
	case cfg.summary:
		return cli.Usagef("--tcp: not supported with --summary, which counts drops only")
	case cfg.filters.Ifname != "":
		return cli.Usagef("--filter-ifname: TCP events belong to sockets, not interfaces, so none would match; leave it out with --tcp")
	case cfg.filters.Expr != "":
		return cli.Usagef("--tcp: a filter expression applies to packets, and most TCP events are a socket's, with none; use the --filter-* flags with --tcp")
	}
	return nil
}

// validateMonitoring checks --summary, --interval and --metrics-addr, and
// turns a bare --metrics-addr port into a loopback address.
func validateMonitoring(cfg *config) error {
	switch {
	case cfg.interval <= 0:
		return cli.Usagef("--interval: %v is not positive", cfg.interval)
	case cfg.summaryKeys < 1 || cfg.summaryKeys > maxSummaryKeys:
		return cli.Usagef("--summary-keys: %d is not between 1 and %d", cfg.summaryKeys, maxSummaryKeys)
	case cfg.summary && cfg.pcap != "":
		return cli.Usagef("--output-pcap: --summary sends no packets to user space, so there is nothing to write")
	case cfg.summary && cfg.count > 0:
		return cli.Usagef("--count: --summary counts drops without reporting each; use --duration")
	}
	if cfg.metricsAddr == "" {
		return nil
	}
	addr, err := metrics.ParseAddr(cfg.metricsAddr)
	if err != nil {
		return cli.Usagef("--metrics-addr: %v", err)
	}
	cfg.metricsAddr = addr
	return nil
}
