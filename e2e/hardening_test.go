package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// stopBound is how long droptrace may take to exit after a signal or its
// --duration in these tests. It promises one second; the bound leaves
// room for a loaded machine and is far below the "forever" of a blocked
// process, which is what the tests tell apart.
const stopBound = 5 * time.Second

// proc is a droptrace started with a stdout of the test's choosing.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	errs []string
	more chan struct{} // a line arrived
	done chan struct{} // exited; err holds how
	err  error
}

// startProc starts droptrace with stdout (nil: discarded) and collects
// its stderr.
func startProc(t *testing.T, stdout io.Writer, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary(t), args...), more: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd.Stdout = stdout
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.mu.Lock()
			p.errs = append(p.errs, sc.Text())
			p.mu.Unlock()
			select {
			case p.more <- struct{}{}:
			default:
			}
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.errs, "\n")
}

// waitStderr waits until stderr holds want, and fails if droptrace exits
// first or takes longer than 30 s.
func (p *proc) waitStderr(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for !strings.Contains(p.stderr(), want) {
		select {
		case <-p.more:
		case <-p.done:
			if !strings.Contains(p.stderr(), want) {
				t.Fatalf("droptrace exited (%v) before saying %q:\n%s", p.err, want, p.stderr())
			}
		case <-timeout:
			t.Fatalf("droptrace did not say %q within 30s:\n%s", want, p.stderr())
		}
	}
}

// exit waits at most bound for droptrace to exit and returns its status
// (-1 when a signal killed it).
func (p *proc) exit(t *testing.T, bound time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(bound):
		t.Fatalf("droptrace still running %v after being told to stop:\n%s", bound, p.stderr())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// keepDropping sends datagrams to the DROP rule from the client until the
// test ends.
func keepDropping(t *testing.T, tp *topology) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			runInNetns(tp.client, func() error { return flood(tp.serverIP4, dropPort, 200) })
		}
	}()
	t.Cleanup(func() { stop.Store(true); wg.Wait() })
}

// checkSummary checks the exit line and returns its reported and
// matched counts.
func checkSummary(t *testing.T, stderr string) (reported, matched int) {
	t.Helper()
	r, m, _ := exitCounts(t, stderr, "drops")
	return int(r), int(m)
}

// TestHardeningPcapSymlink: -w never follows a symbolic link, dangling or
// not, and leaves its target as it was.
func TestHardeningPcapSymlink(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("not a capture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "l.pcapng")
	dangling := filepath.Join(dir, "d.pcapng")
	os.Symlink(target, link)
	os.Symlink(filepath.Join(dir, "created"), dangling)
	for _, path := range []string{link, dangling} {
		code, _, stderr := exitCode(t, "-w", path, "--duration", "1s", "--filter-port", "1")
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], "--output-pcap") || !strings.Contains(lines[0], "symbolic link") {
			t.Errorf("-w %s: exit %d, stderr %q; want 2 and one line naming --output-pcap and the link", path, code, stderr)
		}
	}
	b, _ := os.ReadFile(target)
	info, _ := os.Stat(target)
	if string(b) != "not a capture\n" || info.Mode().Perm() != 0o644 {
		t.Errorf("the link's target changed: %q, mode %v", b, info.Mode().Perm())
	}
	if _, err := os.Lstat(filepath.Join(dir, "created")); err == nil {
		t.Errorf("the dangling link's target was created")
	}
}

// TestHardeningPcapFiles: a new file is created 0600; an existing regular
// file is truncated, and droptrace says so.
func TestHardeningPcapFiles(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	fresh, existing := filepath.Join(dir, "new.pcapng"), filepath.Join(dir, "old.pcapng")
	if err := os.WriteFile(existing, []byte(strings.Repeat("x", 100000)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fresh, existing} {
		code, _, stderr := exitCode(t, "-w", path, "--duration", "1s", "--filter-port", "1")
		if code != 0 {
			t.Fatalf("-w %s: exit %d: %s", path, code, stderr)
		}
		info, err := os.Stat(path)
		if err != nil || info.Mode().Perm() != 0o600 || info.Size() >= 100000 {
			t.Errorf("-w %s: %v, %v; want a 0600 pcapng file", path, info.Mode(), err)
		}
		said := strings.Contains(stderr, "truncated the existing file "+path)
		if said != (path == existing) {
			t.Errorf("-w %s: stderr %q: a truncation must be said, and only then", path, stderr)
		}
	}
	if out, err := exec.Command("tcpdump", "-r", existing).CombinedOutput(); err != nil {
		t.Errorf("tcpdump -r %s: %v\n%s", existing, err, out)
	}
}

// TestHardeningFifoNoReader: -w to a FIFO nobody reads waits for a
// reader, and SIGINT or --duration still stop it.
func TestHardeningFifoNoReader(t *testing.T) {
	requireRoot(t)
	for _, how := range []string{"SIGINT", "--duration"} {
		t.Run(how, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "p")
			if err := unix.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"-w", fifo, "--filter-port", "1"}
			if how == "--duration" {
				args = append(args, "--duration", "1s")
			}
			p := startProc(t, nil, args...)
			p.waitStderr(t, "waiting for a reader")
			if how == "SIGINT" {
				p.cmd.Process.Signal(os.Interrupt)
			}
			if code := p.exit(t, stopBound); code != 0 {
				t.Errorf("exit %d, want 0:\n%s", code, p.stderr())
			}
		})
	}
}

// TestHardeningFifoReader: with a reader, a FIFO is written as a stream,
// as `mkfifo p; wireshark -k -i p & droptrace -w p` needs.
func TestHardeningFifoReader(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	fifo := filepath.Join(t.TempDir(), "p")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	reader := exec.Command("tcpdump", "-nn", "-r", fifo)
	var out strings.Builder
	reader.Stdout, reader.Stderr = &out, &out
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Process.Kill() })
	const n = 3
	p := startProc(t, nil, "-w", fifo, "--count", fmt.Sprint(n), "--filter-netns", tp.server, "--filter-port", fmt.Sprint(dropPort))
	p.waitStderr(t, "tracing drops via")
	tp.sendUDP(t, tp.serverIP4, dropPort, n)
	if code := p.exit(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr())
	}
	if err := reader.Wait(); err != nil {
		t.Fatalf("tcpdump: %v\n%s", err, out.String())
	}
	if got := strings.Count(out.String(), fmt.Sprintf("> %s.%d:", tp.serverIP4, dropPort)); got != n {
		t.Errorf("tcpdump read %d packets from the FIFO, want %d:\n%s\n%s", got, n, out.String(), p.stderr())
	}
	if info, _ := os.Lstat(fifo); info.Mode()&os.ModeNamedPipe == 0 || info.Mode().Perm() != 0o600 {
		t.Errorf("the FIFO became %v", info.Mode())
	}
}

// TestHardeningBlockedStdout: with stdout a pipe nobody reads and drops
// flowing, SIGINT, SIGTERM and SIGHUP still stop droptrace, with the
// exit summary.
func TestHardeningBlockedStdout(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	keepDropping(t, tp)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			p := startProc(t, w, "-o", "json", "--filter-netns", tp.server, "--filter-port", fmt.Sprint(dropPort))
			w.Close()
			waitPipeFull(t, r, p)
			start := time.Now()
			p.cmd.Process.Signal(sig)
			if code := p.exit(t, stopBound); code != 0 {
				t.Errorf("exit %d after %v, want 0:\n%s", code, sig, p.stderr())
			}
			t.Logf("exited %v after %v", time.Since(start).Round(time.Millisecond), sig)
			reported, matched := checkSummary(t, p.stderr())
			if reported >= matched {
				t.Errorf("%d reported of %d matched, with the output blocked", reported, matched)
			}
		})
	}
}

// waitPipeFull waits until a thread of droptrace is blocked writing to
// the pipe r reads from (its wchan is pipe_write, or anon_pipe_write since
// Linux 6.14), or the pipe is within two pages of full (pages part-filled by earlier writes stay so), with drops flowing:
// droptrace writes a FIFO it opened through Go's poller, which parks a
// goroutine rather than blocking a thread.
func waitPipeFull(t *testing.T, r *os.File, p *proc) {
	t.Helper()
	size, err := unix.FcntlInt(r.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(30 * time.Second)
	for {
		n, err := unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ)
		if err != nil {
			t.Fatal(err)
		}
		if n >= size-2*os.Getpagesize() || blockedInPipeWrite(p.cmd.Process.Pid) {
			return
		}
		select {
		case <-tick.C:
		case <-p.done:
			t.Fatalf("droptrace exited: %v\n%s", p.err, p.stderr())
		case <-timeout:
			t.Fatalf("the pipe holds %d of %d bytes after 30s\n%s", n, size, p.stderr())
		}
	}
}

func blockedInPipeWrite(pid int) bool {
	chans, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
	for _, c := range chans {
		if b, _ := os.ReadFile(c); strings.HasSuffix(string(b), "pipe_write") {
			return true
		}
	}
	return false
}

// TestHardeningSIGHUP: a hang-up ends the run like Ctrl-C, with the
// summary, rather than killing it.
func TestHardeningSIGHUP(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	p := startProc(t, nil, "--filter-netns", tp.server, "--filter-port", fmt.Sprint(dropPort))
	p.waitStderr(t, "tracing drops via")
	p.cmd.Process.Signal(syscall.SIGHUP)
	if code := p.exit(t, stopBound); code != 0 {
		t.Fatalf("exit %d after SIGHUP, want 0:\n%s", code, p.stderr())
	}
	checkSummary(t, p.stderr())
}

// TestHardeningClosedStdout: `droptrace | head -1` ends the run when head
// exits, with the summary and status 0, as `tcpdump | head` does.
func TestHardeningClosedStdout(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := startProc(t, w, "-o", "json", "--filter-netns", tp.server, "--filter-port", fmt.Sprint(dropPort))
	w.Close()
	keepDropping(t, tp)
	if _, err := bufio.NewReader(r).ReadString('\n'); err != nil {
		t.Fatalf("reading the first line: %v\n%s", err, p.stderr())
	}
	r.Close()
	if code := p.exit(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d (-1: killed by a signal) after stdout closed, want 0:\n%s", code, p.stderr())
	}
	if reported, _ := checkSummary(t, p.stderr()); reported < 1 {
		t.Errorf("%d drops reported; head read one", reported)
	}
}

// TestHardeningDevFull: a failing stdout exits 1, and the summary counts
// as reported only what was written: nothing.
func TestHardeningDevFull(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	p := startProc(t, full, "--filter-netns", tp.server, "--filter-port", fmt.Sprint(dropPort))
	p.waitStderr(t, "tracing drops via")
	tp.sendUDP(t, tp.serverIP4, dropPort, 5)
	if code := p.exit(t, 30*time.Second); code != 1 {
		t.Fatalf("exit %d with stdout on /dev/full, want 1:\n%s", code, p.stderr())
	}
	reported, matched := checkSummary(t, p.stderr())
	if reported != 0 || matched < 1 {
		t.Errorf("%d reported, %d matched; want 0 reported of at least 1:\n%s", reported, matched, p.stderr())
	}
}

// TestHardeningNetnsReuse: a namespace deleted under --filter-netns keeps
// its inode, so a new namespace's drops are not reported as its own, and
// droptrace warns that it was deleted.
func TestHardeningNetnsReuse(t *testing.T) {
	requireRoot(t)
	id := randomID(t)
	c, d := "dt-reuse-c-"+id, "dt-reuse-d-"+id
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", c).Run()
		exec.Command("ip", "netns", "del", d).Run()
	})
	sh(t, "ip", "netns", "add", c)
	cIno := inode(t, c)
	old := startProc(t, &strings.Builder{}, "-o", "json", "--filter-netns", c)
	old.waitStderr(t, "tracing drops via")
	sh(t, "ip", "netns", "del", c)
	old.waitStderr(t, "namespace was deleted")
	sh(t, "ip", "netns", "add", d)
	sh(t, "ip", "-n", d, "link", "set", "lo", "up")
	if dIno := inode(t, d); dIno == cIno {
		t.Fatalf("the new namespace took the deleted one's inode %d", cIno)
	}
	var out strings.Builder
	witness := startProc(t, &out, "-o", "json", "--count", "3", "--filter-netns", d, "--filter-port", fmt.Sprint(closedPort))
	witness.waitStderr(t, "tracing drops via")
	sh(t, "ip", "netns", "exec", d, "bash", "-c", fmt.Sprintf("for i in 1 2 3; do echo x > /dev/udp/127.0.0.1/%d; done", closedPort))
	if code := witness.exit(t, 30*time.Second); code != 0 {
		t.Fatalf("witness: exit %d\n%s", code, witness.stderr())
	}
	old.cmd.Process.Signal(os.Interrupt)
	if code := old.exit(t, stopBound); code != 0 {
		t.Fatalf("exit %d\n%s", code, old.stderr())
	}
	if reported, _ := checkSummary(t, old.stderr()); reported != 0 {
		t.Errorf("droptrace --filter-netns %s reported %d drops of another namespace", c, reported)
	}
}

// TestHardeningFlags: empty values, flags without their mode, repeated
// filters, missing namespaces and interfaces, and -w to stdout by
// another name are usage errors naming the flag.
func TestHardeningFlags(t *testing.T) {
	requireRoot(t) // --filter-ifname is looked up in every namespace
	tests := []struct {
		args []string
		flag string
	}{
		{[]string{"--filter-dst-ip", ""}, "--filter-dst-ip"},
		{[]string{"--filter-src-ip", ""}, "--filter-src-ip"},
		{[]string{"--filter-port", ""}, "--filter-port"},
		{[]string{"--filter-proto", ""}, "--filter-proto"},
		{[]string{"--filter-netns", ""}, "--filter-netns"},
		{[]string{"--filter-ifname", ""}, "--filter-ifname"},
		{[]string{"--filter-reason", ""}, "--filter-reason"},
		{[]string{"-w", ""}, "--output-pcap"},
		{[]string{"--metrics-addr", ""}, "--metrics-addr"},
		{[]string{"--output-stack"}, "--output-stack"},
		{[]string{"--filter-func", "ip_rcv"}, "--filter-func"},
		{[]string{"--backend", "kprobe"}, "--backend"},
		{[]string{"--interval", "2s"}, "--interval"},
		{[]string{"--summary-keys", "10"}, "--summary-keys"},
		{[]string{"--output-snaplen", "64"}, "--output-snaplen"},
		{[]string{"--filter-port", "80", "--filter-port", "443"}, "--filter-port"},
		{[]string{"--filter-dst-ip", "10.0.0.1", "--filter-dst-ip", "10.0.0.2"}, "--filter-dst-ip"},
		{[]string{"--filter-netns", "999"}, "--filter-netns"},
		{[]string{"--filter-ifname", "dtnosuch" + randomID(t)}, "--filter-ifname"},
		{[]string{"-w", "/dev/stdout"}, "--output-pcap"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			// --duration ends a droptrace that accepts the flags instead
			// of refusing them, so the case fails rather than hangs.
			code, _, stderr := exitCode(t, append(tt.args, "--duration", "3s")...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], tt.flag) {
				t.Errorf("exit %d, stderr %q; want 2 and one line naming %s", code, stderr, tt.flag)
			}
			if strings.Contains(stderr, "tracing drops") {
				t.Errorf("it attached: %q", stderr)
			}
		})
	}
}

// TestHardeningTracefs: in a mount namespace without tracefs, the classic
// tracepoint mounts it, says so, and unmounts it at exit.
func TestHardeningTracefs(t *testing.T) {
	requireRoot(t)
	script := `umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug 2>/dev/null
test -e /sys/kernel/tracing/events && { echo "tracefs still mounted" >&2; exit 99; }
"$@" || exit $?
if grep -q ' /sys/kernel/tracing ' /proc/self/mountinfo; then echo "TRACEFS LEFT MOUNTED" >&2; exit 98; fi`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
		binary(t), "--drop-hook", "tracepoint", "--duration", "1s", "--filter-port", "1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"mounted tracefs on /sys/kernel/tracing", "unmounted the tracefs it mounted"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("stderr lacks %q:\n%s", want, out)
		}
	}
}

// TestHardeningBlockedFifo: a FIFO reader that stops reading does not
// keep droptrace from stopping.
func TestHardeningBlockedFifo(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	keepDropping(t, tp)
	fifo := filepath.Join(t.TempDir(), "p")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// A reader that opens the FIFO and never reads.
	r, err := os.OpenFile(fifo, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := startProc(t, nil, "-w", fifo, "--filter-netns", tp.server, "--filter-port", fmt.Sprint(dropPort))
	waitPipeFull(t, r, p)
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.exit(t, stopBound); code != 0 {
		t.Errorf("exit %d, want 0:\n%s", code, p.stderr())
	}
	checkSummary(t, p.stderr())
}

// TestHardeningSystemUnchanged: a run with --tcp leaves the ruleset, the
// namespace's sysctls, the BPF-related global sysctls and the mounts as
// it found them (mounts: tracefs, debugfs and bpffs).
func TestHardeningSystemUnchanged(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	snapshot := func() string {
		var b strings.Builder
		b.WriteString(tp.in(t, tp.server, "nft", "--stateless", "list", "ruleset"))
		b.WriteString(tp.in(t, tp.server, "sysctl", "-a", "-r", `^net\.`))
		for _, k := range []string{"kernel.perf_event_paranoid", "kernel.unprivileged_bpf_disabled", "kernel.kptr_restrict",
			"kernel.bpf_stats_enabled", "net.core.bpf_jit_enable", "net.core.bpf_jit_harden", "net.core.bpf_jit_kallsyms"} {
			out, _ := exec.Command("sysctl", "-n", k).CombinedOutput()
			b.WriteString(k + "=" + string(out))
		}
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		// Only the file systems a tracer could mount: other tests on the
		// machine add and remove namespaces and containers meanwhile.
		for _, l := range strings.Split(string(mounts), "\n") {
			_, fs, _ := strings.Cut(l, " - ")
			if fsType, _, _ := strings.Cut(fs, " "); fsType == "tracefs" || fsType == "debugfs" || fsType == "bpf" {
				b.WriteString(l + "\n")
			}
		}
		return b.String()
	}
	before := snapshot()
	p := startProc(t, nil, "--tcp", "--filter-netns", tp.server)
	p.waitStderr(t, "tracing drops via")
	tp.connectTCP(t, tp.serverIP4, rejectPort, 2)
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.exit(t, stopBound); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr())
	}
	if after := snapshot(); after != before {
		t.Errorf("the system changed across a run:\n%s", lineDiff(before, after))
	}
}

// lineDiff lists the lines only one of a and b has.
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for l := range ma {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range mb {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// TestHardeningSIGKILL: a droptrace killed outright leaves no program or
// link behind: the kernel frees them with the process's file descriptors.
func TestHardeningSIGKILL(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	p := startProc(t, nil, "--tcp", "--filter-netns", tp.server)
	p.waitStderr(t, "tracing drops via")
	links, progs := bpfObjects(t, p.cmd.Process.Pid)
	if len(links) == 0 || len(progs) == 0 {
		t.Fatalf("droptrace holds %d links and %d programs; want some of each", len(links), len(progs))
	}
	p.cmd.Process.Kill()
	if code := p.exit(t, stopBound); code != -1 {
		t.Fatalf("exit %d, want death by SIGKILL", code)
	}
	for _, id := range links {
		if l, err := link.NewFromID(link.ID(id)); err == nil {
			l.Close()
			t.Errorf("link %d outlived droptrace", id)
		}
	}
	// The kernel frees a program after an RCU grace period and a work
	// item: wait for that, within a bound.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(10 * time.Second)
	for _, id := range progs {
		for programExists(id) {
			select {
			case <-tick.C:
			case <-timeout:
				t.Fatalf("program %d outlived droptrace by 10s", id)
			}
		}
	}
}

func programExists(id uint32) bool {
	prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if err != nil {
		return false
	}
	prog.Close()
	return true
}

// bpfObjects lists the ids of the BPF links and programs that process pid
// has open, from its fdinfo.
func bpfObjects(t *testing.T, pid int) (links, progs []uint32) {
	t.Helper()
	ids := fdinfoIDs(pid)
	return ids["link_id"], ids["prog_id"]
}

// fdinfoIDs maps each BPF id key of fdinfo (link_id, prog_id, map_id) to
// the ids of that kind among the descriptors process pid has open.
func fdinfoIDs(pid int) map[string][]uint32 {
	ids := map[string][]uint32{}
	infos, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fdinfo/*", pid))
	for _, path := range infos {
		b, _ := os.ReadFile(path)
		for _, line := range strings.Split(string(b), "\n") {
			key, val, _ := strings.Cut(line, ":")
			id, err := strconv.ParseUint(strings.TrimSpace(val), 10, 32)
			if err == nil && (key == "link_id" || key == "prog_id" || key == "map_id") {
				ids[key] = append(ids[key], uint32(id))
			}
		}
	}
	return ids
}
