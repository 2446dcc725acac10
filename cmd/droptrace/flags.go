package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/droptrace/droptrace/cli"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/output"
	"github.com/droptrace/droptrace/session"
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
	annotate    session.Annotations
	filterPod   string
	version     bool
	help        bool
}

func newFlagSet(cfg *config) *pflag.FlagSet {
	fs := pflag.NewFlagSet("droptrace", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard)
	cfg.filters.Register(fs)
	fs.StringVar(&cfg.filterPod, "filter-pod", "", "only drops in this Kubernetes pod's network namespace, NAMESPACE/NAME, followed if the pod is created again")
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
	a := &cfg.annotate
	fs.BoolVar(&a.Explain, "explain", false, "explain each drop: its cause in words, evidence read live from the system, and a fix")
	fs.BoolVar(&a.ShowRoutine, "show-routine", false, "also report routine frees that are not packet loss (socket-close purges, multicast not for this host)")
	fs.BoolVar(&a.Netfilter, "netfilter", true, "name the firewall rule behind each NETFILTER_DROP, with its verdict (--netfilter=false: off)")
	fs.StringVar(&a.CRIEndpoint, "cri-endpoint", "", "the container runtime's CRI socket, to name drops by pod (default: containerd's or CRI-O's if found; 'none': off)")
	fs.BoolVar(&cfg.listReasons, "list-reasons", false, "print the drop reasons of the running kernel, with what each means, and exit")
	fs.BoolVar(&cfg.version, "version", false, "print the version and exit")
	fs.BoolVarP(&cfg.help, "help", "h", false, "print this help and exit")
	return fs
}

// rules are what the flags require beyond their own value: an empty
// value would mean "everything", a repeated filter would silently keep
// only its last value, and a flag of another mode would do nothing.
var rules = []cli.Rule{
	{Flag: "filter-pod", NonEmpty: true, Once: true, Excludes: []string{"filter-netns", "trace"}},
	{Flag: "cri-endpoint", NonEmpty: true, Once: true},
	{Flag: "output-pcap", NonEmpty: true, Once: true},
	{Flag: "metrics-addr", NonEmpty: true, Once: true},
	{Flag: "output-snaplen", Needs: []string{"output-pcap"}},
	{Flag: "backend", Needs: []string{"trace"}},
	{Flag: "output-stack", Needs: []string{"trace"}},
	{Flag: "filter-func", NonEmpty: true, Needs: []string{"trace", "list-funcs"}},
	{Flag: "interval", Needs: []string{"summary"}},
	{Flag: "summary-keys", Needs: []string{"summary"}},
}

// parseFlags parses args and checks what can be checked without the kernel.
func parseFlags(args []string) (*config, *pflag.FlagSet, error) {
	cfg := &config{}
	fs := newFlagSet(cfg)
	if err := cli.Parse(fs, args, append(cli.FilterRules(), rules...)); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			cfg.help = true
			return cfg, fs, nil
		}
		var ue *cli.Error
		if errors.As(err, &ue) {
			return nil, fs, err
		}
		return nil, fs, cli.Usagef("%v (see --help)", err)
	}
	// As tcpdump does: the arguments are one expression, joined by spaces.
	cfg.filters.Expr = strings.Join(fs.Args(), " ")
	cfg.outputSet = fs.Changed("output")
	if err := validate(cfg); err != nil {
		return nil, fs, err
	}
	return cfg, fs, cfg.trace.validate(cfg)
}
