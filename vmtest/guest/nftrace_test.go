package guest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/nftrace"
)

// droptraceBin is the real binary, which vmtest/run.sh puts in the guest.
const droptraceBin = "/bin/droptrace"

// nftProbe is a packet one rule (or policy) of the test's ruleset drops,
// and what droptrace must say of it.
type nftProbe struct {
	network string // "tcp4", "udp4", "tcp6", ...
	dst     string
	port    uint16
	nf      event.Netfilter // Rule.Handle filled once the rules exist
	text    string          // a part of the rule's text
}

// TestNftExact: with kprobes or fentry, droptrace has the kernel name
// the rule of every NETFILTER_DROP (certainty exact): rules of a native
// inet table (drop, reject with tcp reset, reject, a jump to a chain
// that drops, an output chain whose policy drops) and of an
// iptables-nft-like table (counters, DROP, the xt REJECT target),
// created over netlink in a namespace of the test's own. Each attach
// method is forced in turn (DROPTRACE_NFT_ATTACH).
func TestNftExact(t *testing.T) {
	requireVM(t)
	loadModules(t)
	series := kernelSeries(kernelRelease(t))
	measured := false
	for _, method := range []string{"fentry", "kprobe"} {
		if !wantMechanisms[series][method] {
			continue
		}
		t.Run(method, func(t *testing.T) { nftExact(t, method, !measured) })
		measured = true
	}
}

// rateTime is how long each packet rate is measured.
const rateTime = time.Second

func nftExact(t *testing.T, method string, rates bool) {
	name, fd := newNamedNetns(t)
	probes := addNftRules(t, fd)
	// The packet rate with the key off and with it on alone (the
	// kernel's cost), once a kernel; below, with droptrace's program.
	var off, keyOn int
	if rates {
		off = udpRateIn(t, fd, rateTime)
		k, err := nftrace.Enable()
		if err != nil {
			t.Fatal(err)
		}
		keyOn = udpRateIn(t, fd, rateTime)
		if err := k.Close(); err != nil {
			t.Fatal(err)
		}
	}
	enableBPFStats(t)
	d := startDroptrace(t, method, name)
	for _, p := range probes {
		sendIn(t, fd, p)
	}
	got := d.waitDrops(t, probes, 20*time.Second)
	on := udpRateIn(t, fd, rateTime)
	runs, ns, misses := nftProgramStats(t)
	stderr := d.stop(t)
	if rates {
		t.Logf("%d UDP packets/s through the ruleset with the trace key off, %d with it on", off, keyOn)
	}
	t.Logf("%s: %d UDP packets/s with the key on and the program attached; program: %d runs, %d ns a run, %d runs missed (the kernel skipped it)",
		method, on, runs, ns, misses)
	for _, want := range []string{"via " + method + "/__nft_trace_packet", "removed its nftrace rule and namespace"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	checkExact(t, probes, got)
}

// newNamedNetns creates a network namespace named under /run/netns, as
// ip netns add does, with lo up; both go when the test ends.
func newNamedNetns(t *testing.T) (string, int) {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	name := "nfx-" + hex.EncodeToString(b)
	path := filepath.Join("/run/netns", name)
	if err := os.MkdirAll("/run/netns", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, "")
	}()
	if err := <-errc; err != nil {
		t.Fatalf("creating netns %s: %v", name, err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Close(fd)
		unix.Unmount(path, unix.MNT_DETACH)
		os.Remove(path)
	})
	h, err := netlink.NewHandleAt(netns.NsHandle(fd), unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("lo up in %s: %v", name, err)
	}
	return name, fd
}

// Expressions of the test's rules.
func l4proto(p byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}}}
}

func dport(op expr.CmpOp, port uint16) []expr.Any {
	return []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: op, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)}}
}

func match(proto byte, port uint16, then ...expr.Any) []expr.Any {
	return append(append(l4proto(proto), dport(expr.CmpOpEq, port)...), then...)
}

func verdict(k expr.VerdictKind) *expr.Verdict { return &expr.Verdict{Kind: k} }

// ipProto matches the IPv4 protocol as iptables-nft does, from the header.
func ipProto(p byte) []expr.Any {
	return []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 9, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}}}
}

// addNftRules creates the test's ruleset in the namespace and returns the
// probes, with the handles the kernel gave the rules.
func addNftRules(t *testing.T, fd int) []nftProbe {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	accept, drop := nftables.ChainPolicyAccept, nftables.ChainPolicyDrop
	fw := c.AddTable(&nftables.Table{Name: "fw", Family: nftables.TableFamilyINet})
	in := c.AddChain(&nftables.Chain{Name: "input", Table: fw, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	sub := c.AddChain(&nftables.Chain{Name: "sub", Table: fw})
	out := c.AddChain(&nftables.Chain{Name: "out", Table: fw, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	filter := c.AddTable(&nftables.Table{Name: "filter", Family: nftables.TableFamilyIPv4})
	input := c.AddChain(&nftables.Chain{Name: "INPUT", Table: filter, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	rules := []struct {
		chain *nftables.Chain
		exprs []expr.Any
	}{
		{in, match(unix.IPPROTO_TCP, 8443, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})},
		{in, match(unix.IPPROTO_UDP, 5353, verdict(expr.VerdictDrop))},
		{in, match(unix.IPPROTO_UDP, 6000, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH})},
		{in, match(unix.IPPROTO_TCP, 7000, &expr.Verdict{Kind: expr.VerdictJump, Chain: "sub"})},
		{sub, []expr.Any{verdict(expr.VerdictDrop)}},
		// The output policy drops UDP to port 3000 only.
		{out, []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{unix.IPPROTO_UDP}}, verdict(expr.VerdictAccept)}},
		{out, append(dport(expr.CmpOpNeq, 3000), verdict(expr.VerdictAccept))},
		// As iptables-nft writes -p tcp --dport 9000 -j DROP and
		// -p udp --dport 4000 -j REJECT: a counter on every rule.
		{input, append(append(ipProto(unix.IPPROTO_TCP), dport(expr.CmpOpEq, 9000)...), &expr.Counter{}, verdict(expr.VerdictDrop))},
		{input, append(append(ipProto(unix.IPPROTO_UDP), dport(expr.CmpOpEq, 4000)...), &expr.Counter{},
			&expr.Target{Name: "REJECT", Info: &xt.Unknown{3, 0, 0, 0, 0, 0, 0, 0}})}, // ipt_reject_info: icmp-port-unreachable, 8-byte aligned
	}
	for _, r := range rules {
		c.AddRule(&nftables.Rule{Table: r.chain.Table, Chain: r.chain, Exprs: r.exprs})
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("creating the ruleset: %v", err)
	}
	handle := func(ch *nftables.Chain, pos int) uint64 {
		rs, err := c.GetRules(ch.Table, ch)
		if err != nil || len(rs) < pos {
			t.Fatalf("reading back %s: %d rules, %v", ch.Name, len(rs), err)
		}
		return rs[pos-1].Handle
	}
	rule := func(ch *nftables.Chain, pos int) *event.NetfilterRule {
		return &event.NetfilterRule{Handle: handle(ch, pos), Position: pos}
	}
	nf := func(fam, table, chain, hook, verdict, with string) event.Netfilter {
		return event.Netfilter{Family: fam, Table: table, Chain: chain, Hook: hook, Verdict: verdict, RejectWith: with, Certainty: event.CertaintyExact}
	}
	with := func(n event.Netfilter, r *event.NetfilterRule) event.Netfilter { n.Rule = r; return n }
	policy := nf("inet", "fw", "out", "output", "DROP", "")
	policy.Policy = true
	return []nftProbe{
		{"tcp4", "127.0.0.1", 8443, with(nf("inet", "fw", "input", "input", "REJECT", "tcp-reset"), rule(in, 1)), "tcp dport 8443 reject with tcp reset"},
		{"tcp6", "::1", 8443, with(nf("inet", "fw", "input", "input", "REJECT", "tcp-reset"), rule(in, 1)), "reject with tcp reset"},
		{"udp4", "127.0.0.1", 5353, with(nf("inet", "fw", "input", "input", "DROP", ""), rule(in, 2)), "udp dport 5353 drop"},
		{"udp4", "127.0.0.1", 6000, with(nf("inet", "fw", "input", "input", "REJECT", "icmp-port-unreachable"), rule(in, 3)), "reject"},
		{"tcp4", "127.0.0.1", 7000, with(nf("inet", "fw", "sub", "input", "DROP", ""), rule(sub, 1)), "drop"},
		{"udp4", "127.0.0.1", 3000, policy, ""},
		{"tcp4", "127.0.0.1", 9000, with(nf("ip", "filter", "INPUT", "input", "DROP", ""), rule(input, 1)), "--dport 9000 -j DROP"},
		{"udp4", "127.0.0.1", 4000, with(nf("ip", "filter", "INPUT", "input", "REJECT", "icmp-port-unreachable"), rule(input, 2)), "-j REJECT"},
	}
}

// inNetns runs f on a thread of its own moved into the namespace.
func inNetns(t *testing.T, fd int, f func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// sendIn sends the probe's packet from inside the namespace: a SYN,
// given up before its first retransmission, or a datagram.
func sendIn(t *testing.T, fd int, p nftProbe) {
	t.Helper()
	dst := netip.AddrPortFrom(netip.MustParseAddr(p.dst), p.port)
	inNetns(t, fd, func() error {
		if strings.HasPrefix(p.network, "udp") {
			c, err := net.DialUDP(p.network, nil, net.UDPAddrFromAddrPort(dst))
			if err != nil {
				return err
			}
			defer c.Close()
			c.Write([]byte("droptrace")) // an output drop fails it with EPERM: that is the drop
			return nil
		}
		d := net.Dialer{Timeout: 300 * time.Millisecond}
		if c, err := d.Dial(p.network, dst.String()); err == nil {
			c.Close()
		}
		return nil
	})
}

// udpRateIn sends UDP datagrams that the ruleset accepts, over lo in the
// namespace, for d, and returns how many a second arrived.
func udpRateIn(t *testing.T, fd int, d time.Duration) int {
	t.Helper()
	var n int
	inNetns(t, fd, func() error {
		rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2000})
		if err != nil {
			return err
		}
		defer rx.Close()
		tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
		if err != nil {
			return err
		}
		defer tx.Close()
		buf := make([]byte, 64)
		for end := time.Now().Add(d); time.Now().Before(end); {
			if _, err := tx.Write(buf[:16]); err != nil {
				return err
			}
			rx.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := rx.Read(buf); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return int(float64(n) / d.Seconds())
}

// enableBPFStats makes the kernel count each program's runs and time,
// for the cost of the nft program, until the test ends.
func enableBPFStats(t *testing.T) {
	const path = "/proc/sys/kernel/bpf_stats_enabled"
	if err := os.WriteFile(path, []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(path, []byte("0"), 0o644) })
}

// nftProgramStats reads the runs and mean run time of the nft verdict
// program droptrace attached (kernel names are cut to 15 bytes).
func nftProgramStats(t *testing.T) (runs, nsPerRun, misses uint64) {
	t.Helper()
	var total time.Duration
	for _, id := range programsAfter(0) {
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		info, err := p.Info()
		if err != nil || !strings.HasPrefix(info.Name, "nft_trace_") {
			p.Close()
			continue
		}
		st, err := p.Stats()
		p.Close()
		if err != nil {
			t.Fatalf("stats of %s: %v", info.Name, err)
		}
		runs, total, misses = runs+st.RunCount, total+st.Runtime, misses+st.RecursionMisses
	}
	if runs == 0 {
		t.Errorf("no runs of droptrace's nft_trace_* program")
		return 0, 0, 0
	}
	return runs, uint64(total.Nanoseconds()) / runs, misses
}

// droptraceRun is the real binary, running.
type droptraceRun struct {
	cmd    *exec.Cmd
	events chan jsonEvent
	stderr *strings.Builder
	errs   chan string
}

type jsonEvent struct {
	Reason    string           `json:"reason"`
	Netns     uint32           `json:"netns"`
	Proto     string           `json:"proto"`
	Dst       string           `json:"dst"`
	Dport     uint16           `json:"dport"`
	Netfilter *event.Netfilter `json:"netfilter"`
}

// startDroptrace runs droptrace on the namespace's drops, JSON out, the
// nft program attached by method, and waits until it is ready.
func startDroptrace(t *testing.T, method, netnsName string) *droptraceRun {
	t.Helper()
	cmd := exec.Command(droptraceBin, "-o", "json", "--filter-netns", netnsName)
	cmd.Env = append(os.Environ(), "DROPTRACE_NFT_ATTACH="+method)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &droptraceRun{cmd: cmd, events: make(chan jsonEvent, 1024), stderr: &strings.Builder{}, errs: make(chan string, 1)}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan bool, 1)
	go d.readStderr(stderr, ready)
	go d.readEvents(stdout)
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("droptrace exited before it was ready:\n%s", d.stderr)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("droptrace not ready after 60 s:\n%s", d.stderr)
	}
	return d
}

func (d *droptraceRun) readStderr(r io.Reader, ready chan<- bool) {
	sc := bufio.NewScanner(r)
	sent := false
	var b strings.Builder
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if !sent && strings.Contains(sc.Text(), "Ctrl-C to stop") {
			ready <- true
			sent = true
		}
	}
	if !sent {
		ready <- false
	}
	d.errs <- b.String()
}

func (d *droptraceRun) readEvents(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev jsonEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Reason == "NETFILTER_DROP" {
			d.events <- ev
		}
	}
	close(d.events)
}

// waitDrops collects NETFILTER_DROP events until every probe has one,
// or for at most timeout.
func (d *droptraceRun) waitDrops(t *testing.T, probes []nftProbe, timeout time.Duration) []jsonEvent {
	t.Helper()
	var got []jsonEvent
	seen := map[int]bool{}
	deadline := time.After(timeout)
	for len(seen) < len(probes) {
		select {
		case ev, ok := <-d.events:
			if !ok {
				return got
			}
			got = append(got, ev)
			if i := probeOf(probes, ev); i >= 0 {
				seen[i] = true
			}
		case <-deadline:
			t.Errorf("NETFILTER_DROP events of %d probes after %v, want %d", len(seen), timeout, len(probes))
			return got
		}
	}
	return got
}

// stop interrupts droptrace and returns its stderr.
func (d *droptraceRun) stop(t *testing.T) string {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("droptrace: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("droptrace still running 30 s after SIGINT")
	}
	s := <-d.errs
	t.Logf("droptrace stderr:\n%s", s)
	return s
}

// checkExact matches each event to its probe by protocol and port, and
// checks droptrace named the probe's rule, exactly.
func checkExact(t *testing.T, probes []nftProbe, got []jsonEvent) {
	t.Helper()
	seen := map[int]bool{}
	for _, ev := range got {
		i := probeOf(probes, ev)
		if i < 0 {
			t.Errorf("NETFILTER_DROP of no probe: %+v %+v", ev, ev.Netfilter)
			continue
		}
		seen[i] = true
		p := probes[i]
		nf := ev.Netfilter
		if nf == nil {
			t.Errorf("%s %s:%d: no netfilter object", p.network, p.dst, p.port)
			continue
		}
		gotNf, wantNf := *nf, p.nf
		gotNf.Rule, wantNf.Rule, gotNf.CtState, gotNf.Reply = nil, nil, "", nil
		if gotNf.Certainty != event.CertaintyExact || fmt.Sprint(gotNf) != fmt.Sprint(wantNf) {
			t.Errorf("%s %s:%d: got %+v, want %+v", p.network, p.dst, p.port, gotNf, wantNf)
		}
		switch {
		case p.nf.Rule == nil && nf.Rule != nil:
			t.Errorf("%s %s:%d: policy drop with a rule %+v", p.network, p.dst, p.port, nf.Rule)
		case p.nf.Rule != nil && (nf.Rule == nil || nf.Rule.Handle != p.nf.Rule.Handle || nf.Rule.Position != p.nf.Rule.Position ||
			!strings.Contains(nf.Rule.Text, p.text)):
			t.Errorf("%s %s:%d: rule %+v, want handle %d position %d text with %q", p.network, p.dst, p.port, nf.Rule,
				p.nf.Rule.Handle, p.nf.Rule.Position, p.text)
		}
	}
	for i, p := range probes {
		if !seen[i] {
			t.Errorf("%s %s:%d: no NETFILTER_DROP reported", p.network, p.dst, p.port)
		}
	}
}

func probeOf(probes []nftProbe, ev jsonEvent) int {
	for i, p := range probes {
		if ev.Proto == p.network[:3] && ev.Dport == p.port && netip.MustParseAddr(p.dst) == netip.MustParseAddr(ev.Dst) {
			return i
		}
	}
	return -1
}
