package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/output"
	"github.com/droptrace/droptrace/tracer"
)

// config is everything the command line asks for, before validation
// against the running kernel.
type config struct {
	filters     filter.Flags
	output      string
	outputSet   bool
	pcap        string
	snaplen     int
	hook        string
	trace       traceOptions
	count       int
	duration    time.Duration
	listReasons bool
	tcp         bool
	summary     bool
	interval    time.Duration
	summaryKeys int
	metricsAddr string
	version     bool
	help        bool
}

// usageError is a bad command line: one line on stderr, exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func newFlagSet(cfg *config) *pflag.FlagSet {
	fs := pflag.NewFlagSet("droptrace", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard)
	f := &cfg.filters
	fs.StringVar(&f.SrcIP, "filter-src-ip", "", "only drops from this IPv4/IPv6 address or CIDR")
	fs.StringVar(&f.DstIP, "filter-dst-ip", "", "only drops to this IPv4/IPv6 address or CIDR")
	fs.StringVar(&f.Port, "filter-port", "", "only drops with this source or destination port")
	fs.StringVar(&f.Proto, "filter-proto", "", "only drops of this protocol: tcp, udp, icmp, icmp6")
	fs.StringVar(&f.Netns, "filter-netns", "", "only drops in this network namespace: inode, /proc/PID/ns/net, or an 'ip netns' name")
	fs.StringVar(&f.Ifname, "filter-ifname", "", "only drops on the interface of this name (in any namespace)")
	fs.StringSliceVar(&f.Reasons, "filter-reason", nil, "only drops with these reasons, e.g. NETFILTER_DROP,NO_SOCKET (see --list-reasons)")
	fs.StringVarP(&cfg.output, "output", "o", "text", "output format on stdout: "+strings.Join(output.Formats(), " or "))
	fs.StringVarP(&cfg.pcap, "output-pcap", "w", "", "also write the dropped packets to this pcapng file ('-' for stdout)")
	fs.IntVar(&cfg.snaplen, "output-snaplen", tracer.MaxSnaplen, fmt.Sprintf("packet bytes saved per drop with --output-pcap (1-%d)", tracer.MaxSnaplen))
	fs.StringVar(&cfg.hook, "drop-hook", tracer.HookAuto, "where to catch drops: auto (tp_btf, else the classic tracepoint), tp_btf, tracepoint")
	fs.BoolVar(&cfg.trace.enabled, "trace", false, "follow matching packets through every kernel function and tracepoint that gets an skb, to their drop (pwru style)")
	fs.StringVar(&cfg.trace.backend, "backend", "auto", "with --trace: how to probe functions: auto, kprobe-multi, kprobe, fentry, tracepoint")
	fs.StringVar(&cfg.trace.funcs, "filter-func", "", "with --trace: probe only the functions matching this regular expression")
	fs.BoolVar(&cfg.trace.listFuncs, "list-funcs", false, "print the functions and tracepoints --trace would probe, with the skb's parameter position, and exit")
	fs.BoolVar(&cfg.trace.stack, "output-stack", false, "with --trace: add the kernel stack to each event")
	fs.BoolVar(&cfg.tcp, "tcp", false, "also report TCP retransmissions and resets, and annotate them and TCP drops with the socket's tcp_info")
	fs.IntVarP(&cfg.count, "count", "c", 0, "exit after this many drops (0: no limit)")
	fs.DurationVar(&cfg.duration, "duration", 0, "exit after this long, e.g. 30s (0: no limit)")
	fs.BoolVar(&cfg.summary, "summary", false, "count drops in the kernel and print a table of them every --interval, and the totals at exit")
	fs.DurationVar(&cfg.interval, "interval", time.Second, "how often --summary prints")
	fs.IntVar(&cfg.summaryKeys, "summary-keys", tracer.DefaultSummaryKeys, "most keys --summary counts in the kernel; drops of further keys are counted as overflow")
	fs.StringVar(&cfg.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this [host:]port (a bare port is on 127.0.0.1)")
	fs.BoolVar(&cfg.listReasons, "list-reasons", false, "print the drop reasons of the running kernel and exit")
	fs.BoolVar(&cfg.version, "version", false, "print the version and exit")
	fs.BoolVarP(&cfg.help, "help", "h", false, "print this help and exit")
	return fs
}

// parseFlags parses args and checks what can be checked without the kernel.
func parseFlags(args []string) (*config, *pflag.FlagSet, error) {
	cfg := &config{}
	fs := newFlagSet(cfg)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			cfg.help = true
			return cfg, fs, nil
		}
		return nil, fs, usagef("%v (see --help)", err)
	}
	if fs.NArg() > 0 {
		return nil, fs, usagef("unexpected argument %q (see --help)", fs.Arg(0))
	}
	cfg.outputSet = fs.Changed("output")
	if err := validate(cfg); err != nil {
		return nil, fs, err
	}
	return cfg, fs, cfg.trace.validate(cfg)
}

func validate(cfg *config) error {
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
	}
	if err := validateTCP(cfg); err != nil {
		return err
	}
	return validateMonitoring(cfg)
}
