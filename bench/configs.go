package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/droptrace/droptrace/tracer/attach"
)

// settle is how long a tracer runs before its slice is measured, once it
// says it is ready: its steady state is measured, not its start (droptrace
// gives back the memory loading took in the background; bpftrace and perf
// have their own start-up work).
const settle = time.Second

// dropReady is what droptrace prints once it is tracing.
const dropReady = "tracing drops via"

// tracerConfig is one way of watching the storm; argv is nil for none.
type tracerConfig struct {
	name string
	// argv is started with startProc(argv, ready, settle, stdout).
	argv   []string
	ready  string
	settle time.Duration
	stdout bool
	// droptrace is true for droptrace itself: its memory and its lost
	// events are reported.
	droptrace bool
	// costName names the row of the BPF cost table, if any.
	costName string
}

func (c tracerConfig) start() (*proc, error) {
	return startProc(c.argv, c.ready, c.settle, c.stdout)
}

func stormConfigs(bin string, tp *topology, tmp string) []tracerConfig {
	dt := func(args ...string) []string { return append([]string{bin}, args...) }
	self := func(flag string) []string { return []string{os.Args[0], flag} }
	cfgs := []tracerConfig{
		{name: "no tracer"},
		{name: "no tracer, measured as a configuration (the method's own error)", argv: self("-idle"), ready: floorReady, settle: settle},
		{name: "droptrace --summary", argv: dt("--summary"), ready: dropReady, settle: settle, droptrace: true,
			costName: "droptrace --summary"},
		// The storm's one iptables rule, named per interval by its counter:
		// summary mode's ratio must stay within 0.02 of the row above's.
		{name: "droptrace --summary, rule named (--filter-netns)", argv: dt("--summary", "--filter-netns", tp.server), ready: dropReady, settle: settle, droptrace: true},
		{name: "droptrace --summary, no rule attribution (--netfilter=false)", argv: dt("--summary", "--netfilter=false"), ready: dropReady, settle: settle, droptrace: true},
		{name: "droptrace, filter matches nothing (--filter-port 1)", argv: dt("--filter-port", "1"), ready: dropReady, settle: settle, droptrace: true,
			costName: "droptrace, filter matches nothing"},
		{name: "droptrace, pcap-filter matches nothing ('port 1')", argv: dt("port 1"), ready: dropReady, settle: settle, droptrace: true,
			costName: "droptrace, pcap-filter matches nothing"},
		{name: "droptrace, every drop to /dev/null (--filter-netns)", argv: dt("--filter-netns", tp.server), ready: dropReady, settle: settle, droptrace: true,
			costName: "droptrace, every drop"},
		{name: "bpftrace count() on tracepoint:skb:kfree_skb", argv: []string{"bpftrace", "-e", "tracepoint:skb:kfree_skb { @drops = count(); }"}, ready: "Attaching", settle: settle, stdout: true,
			costName: "bpftrace count()"},
		{name: "empty tp_btf program on kfree_skb (the floor)", argv: self("-floor-program"), ready: floorReady, settle: settle},
		// perf says nothing when it is ready; it is, well within 2s.
		{name: "perf record -e skb:kfree_skb -a", argv: []string{"perf", "record", "-q", "-e", "skb:kfree_skb", "-a", "-o", tmp + "/perf.data"}, settle: 2 * time.Second},
	}
	return append(cfgs, tracePathConfigs(bin)...)
}

// tracePathConfigs measure --trace on the storm, a UDP packet rate: every
// datagram passes the skb tracepoints (or functions) before its drop,
// and none matches the filter; next to it, empty programs on the same
// probes with the same backend (the floor of path tracing).
func tracePathConfigs(bin string) []tracerConfig {
	backend, _, err := attach.ChooseBackend("ip_rcv")
	if err != nil || !hasTrace(bin) {
		return nil
	}
	return []tracerConfig{
		{name: fmt.Sprintf("empty programs on --trace's probes, %s (the path floor)", backend), argv: []string{os.Args[0], "-floor-path", string(backend)}, ready: floorReady, settle: settle},
		{name: fmt.Sprintf("droptrace --trace --filter-port 1, %s (matches nothing)", backend), argv: []string{bin, "--backend", string(backend), "--trace", "--filter-port", "1"}, ready: "tracing packet paths", settle: settle},
	}
}

// extraConfigs turns -extra NAME=COMMAND flags into configurations.
func extraConfigs(extra []string) []tracerConfig {
	var out []tracerConfig
	for _, e := range extra {
		name, command, _ := strings.Cut(e, "=")
		out = append(out, tracerConfig{name: name, argv: []string{"sh", "-c", command}, settle: 2 * time.Second})
	}
	return out
}

// selectConfigs keeps the no-tracer baseline and the configurations whose
// names match re.
func selectConfigs(cfgs []tracerConfig, re *regexp.Regexp) []tracerConfig {
	var out []tracerConfig
	for _, c := range cfgs {
		if c.argv == nil || re.MatchString(c.name) {
			out = append(out, c)
		}
	}
	return out
}

var dropSummaryRe = regexp.MustCompile(`(\d+) drops reported, (\d+) matched in the kernel, (\d+) events lost`)

// routineRe is droptrace's exit line on the routine frees it left out.
var routineRe = regexp.MustCompile(`(\d+) routine frees not reported`)

// routineSkipped parses how many matched drops droptrace left out as
// routine frees (0 when it printed no such line).
func routineSkipped(out string) uint64 {
	m := routineRe.FindStringSubmatch(out)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

// dropLoss parses droptrace's exit line: reported, matched, lost.
func dropLoss(out string) (reported, matched, lost uint64, ok bool) {
	m := dropSummaryRe.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, 0, false
	}
	reported, _ = strconv.ParseUint(m[1], 10, 64)
	matched, _ = strconv.ParseUint(m[2], 10, 64)
	lost, _ = strconv.ParseUint(m[3], 10, 64)
	return reported, matched, lost, true
}

// hasTrace says whether this droptrace has path tracing (--trace).
func hasTrace(bin string) bool {
	out, _ := exec.Command(bin, "--help").Output()
	return strings.Contains(string(out), "--trace")
}

// ensureTools installs bpftrace, perf and iperf3 when missing, and mounts
// tracefs, which perf's tracepoint events need.
func ensureTools() error {
	var missing []string
	for tool, pkg := range map[string]string{"bpftrace": "bpftrace", "perf": "linux-perf", "iperf3": "iperf3", "iptables": "iptables", "bpftool": "bpftool"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "bench: installing %s\n", strings.Join(missing, " "))
		if _, err := sh("apt-get", "update", "-q"); err != nil {
			return err
		}
		if _, err := sh("apt-get", append([]string{"install", "-y", "-q"}, missing...)...); err != nil {
			return err
		}
	}
	if _, err := os.Stat("/sys/kernel/tracing/events"); err != nil {
		if _, err := sh("mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"); err != nil {
			return err
		}
	}
	return nil
}
