package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tcpEvent is one line of --output json with the --tcp fields.
type tcpEvent struct {
	jsonEvent
	TCPState   string   `json:"tcp_state"`
	SockCookie uint64   `json:"sock_cookie"`
	TCPInfo    *tcpInfo `json:"tcp_info"`
}

type tcpInfo struct {
	Gone         bool   `json:"gone"`
	State        string `json:"state"`
	RTT          uint32 `json:"rtt_us"`
	RTTVar       uint32 `json:"rttvar_us"`
	RTO          uint32 `json:"rto_us"`
	Retransmits  uint8  `json:"retransmits"`
	TotalRetrans uint32 `json:"total_retrans"`
	Lost         uint32 `json:"lost"`
	Unacked      uint32 `json:"unacked"`
	SndCwnd      uint32 `json:"snd_cwnd"`
	SendQueue    uint32 `json:"send_queue"`
	AtEvent      bool   `json:"at_event"`
	LookedUp     bool   `json:"looked_up"`
}

func (tr *tracer) tcpEvents(t *testing.T) []tcpEvent {
	t.Helper()
	return decodeLines[tcpEvent](t, tr.stdout.Bytes())
}

// inNetns runs f on a thread moved into namespace ns; sockets f makes
// live there and may be used from any goroutine afterwards.
func inNetns(t *testing.T, ns string, f func() error) {
	t.Helper()
	if err := runInNetns(ns, f); err != nil {
		t.Fatalf("in netns %s: %v", ns, err)
	}
}

// runInNetns runs f on a new thread moved into namespace ns and returns
// its error.
func runInNetns(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine rather than
		// going back to the pool in the wrong namespace.
		runtime.LockOSThread()
		fd, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer fd.Close()
		if err := unix.Setns(int(fd.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

// transfer is a TCP connection from the client namespace to a server in
// the server namespace that reads and discards everything.
type transfer struct {
	conn     net.Conn
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// startTransfer connects to addr:port and writes chunk bytes every gap
// (back to back when gap is 0) until stopped.
func (tp *topology) startTransfer(t *testing.T, addr string, port, chunk int, gap time.Duration) *transfer {
	t.Helper()
	return tp.startTransfers(t, addr, port, 1, chunk, gap)[0]
}

// startTransfers starts n connections to one server.
func (tp *topology) startTransfers(t *testing.T, addr string, port, n, chunk int, gap time.Duration) []*transfer {
	t.Helper()
	hostport := net.JoinHostPort(addr, strconv.Itoa(port))
	var ln net.Listener
	inNetns(t, tp.server, func() (err error) {
		ln, err = net.Listen("tcp", hostport)
		return err
	})
	t.Cleanup(func() { ln.Close() })
	go discard(ln)
	var xfers []*transfer
	for range n {
		tr := &transfer{stop: make(chan struct{}), done: make(chan struct{})}
		inNetns(t, tp.client, func() (err error) {
			tr.conn, err = net.DialTimeout("tcp", hostport, 5*time.Second)
			return err
		})
		t.Cleanup(func() { tr.conn.Close() })
		go tr.write(chunk, gap)
		xfers = append(xfers, tr)
	}
	return xfers
}

func discard(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			io.Copy(io.Discard, c)
			c.Close()
		}()
	}
}

func (tr *transfer) write(chunk int, gap time.Duration) {
	defer close(tr.done)
	buf := make([]byte, chunk)
	for {
		select {
		case <-tr.stop:
			return
		default:
		}
		// A deadline, so that a write blocked by a full send buffer
		// notices the stop.
		tr.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := tr.conn.Write(buf); err != nil && !os.IsTimeout(err) {
			return
		}
		time.Sleep(gap)
	}
}

// finish stops writing and closes the connection.
func (tr *transfer) finish() {
	tr.pause()
	tr.conn.Close()
}

// pause stops writing and leaves the connection open.
func (tr *transfer) pause() {
	tr.stopOnce.Do(func() { close(tr.stop) })
	<-tr.done
}

// localPort is the client's ephemeral port.
func (tr *transfer) localPort() uint16 {
	return uint16(tr.conn.LocalAddr().(*net.TCPAddr).Port)
}

// ssSample is what `ss -tino` printed for one socket at one moment.
type ssSample struct {
	at           time.Time
	rtoMS        float64
	rttMS        float64
	cwnd         uint32
	totalRetrans uint32
	bytesAcked   uint64
	unacked      uint64 // 0 when ss prints no unacked:
	timerCount   int    // the third field of timer:(on,408ms,2): icsk_retransmits
}

var (
	ssRTO   = regexp.MustCompile(`\brto:([0-9.]+)`)
	ssRTT   = regexp.MustCompile(`\brtt:([0-9.]+)/`)
	ssCwnd  = regexp.MustCompile(`\bcwnd:(\d+)`)
	ssRetr  = regexp.MustCompile(`\bretrans:\d+/(\d+)`)
	ssAcked = regexp.MustCompile(`\bbytes_acked:(\d+)`)
	ssUnack = regexp.MustCompile(`\bunacked:(\d+)`)
	ssTimer = regexp.MustCompile(`timer:\([a-z_]+,[^,]+,(\d+)\)`)
)

// parseSS reads one socket's `ss -tinoH` output.
func parseSS(out string, at time.Time) (ssSample, bool) {
	s := ssSample{at: at}
	m := ssRTO.FindStringSubmatch(out)
	if m == nil {
		return s, false
	}
	s.rtoMS, _ = strconv.ParseFloat(m[1], 64)
	if m := ssRTT.FindStringSubmatch(out); m != nil {
		s.rttMS, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := ssCwnd.FindStringSubmatch(out); m != nil {
		n, _ := strconv.ParseUint(m[1], 10, 32)
		s.cwnd = uint32(n)
	}
	if m := ssRetr.FindStringSubmatch(out); m != nil {
		n, _ := strconv.ParseUint(m[1], 10, 32)
		s.totalRetrans = uint32(n)
	}
	if m := ssAcked.FindStringSubmatch(out); m != nil {
		s.bytesAcked, _ = strconv.ParseUint(m[1], 10, 64)
	}
	if m := ssUnack.FindStringSubmatch(out); m != nil {
		s.unacked, _ = strconv.ParseUint(m[1], 10, 64)
	}
	if m := ssTimer.FindStringSubmatch(out); m != nil {
		s.timerCount, _ = strconv.Atoi(m[1])
	}
	return s, true
}

// readSS runs `ss -tino` once for the established client socket with
// local port sport in namespace ns.
func readSS(ns string, sport uint16) (ssSample, error) {
	out, err := exec.Command("ip", "netns", "exec", ns, "ss", "-tinoH", "state", "established",
		fmt.Sprintf("( sport = :%d )", sport)).Output()
	at := time.Now()
	if err != nil {
		return ssSample{}, fmt.Errorf("ss: %w", err)
	}
	s, ok := parseSS(string(out), at)
	if !ok {
		return s, fmt.Errorf("no established socket from port %d: ss printed %q", sport, out)
	}
	return s, nil
}

// waitSS waits until the client socket from sport shows what check wants.
func (tp *topology) waitSS(t *testing.T, what string, sport uint16, check func(ssSample) error) {
	t.Helper()
	waitFor(t, what, settle, func() error {
		s, err := readSS(tp.client, sport)
		if err != nil {
			return err
		}
		return check(s)
	})
}

// acked is a waitSS check: at least n bytes acknowledged.
func acked(n uint64) func(ssSample) error {
	return func(s ssSample) error { return atLeast(s.bytesAcked, n) }
}

// timeouts is a waitSS check: at least n retransmission timeouts in a row.
func timeouts(n int) func(ssSample) error {
	return func(s ssSample) error { return atLeast(uint64(s.timerCount), uint64(n)) }
}

// ssSampler runs `ss -tino` for one client socket every sampleEvery (or
// as fast as ss answers, when slower), until stopped.
type ssSampler struct {
	mu       sync.Mutex
	samples  []ssSample
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// sampleEvery is the sampling period: short beside the 200 ms and longer
// gaps between retransmissions, which every sample must fall between.
const sampleEvery = 20 * time.Millisecond

func sampleSS(t *testing.T, ns string, sport uint16) *ssSampler {
	sm := &ssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { sm.finish() }) // a test that fails half-way stops it too
	go func() {
		defer close(sm.done)
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		for {
			if s, err := readSS(ns, sport); err == nil {
				sm.mu.Lock()
				sm.samples = append(sm.samples, s)
				sm.mu.Unlock()
			}
			select {
			case <-sm.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return sm
}

// latest is the last sample taken, if any.
func (sm *ssSampler) latest() (ssSample, bool) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if len(sm.samples) == 0 {
		return ssSample{}, false
	}
	return sm.samples[len(sm.samples)-1], true
}

// finish stops sampling and returns every sample, oldest first.
func (sm *ssSampler) finish() []ssSample {
	sm.stopOnce.Do(func() { close(sm.stop) })
	<-sm.done
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.samples
}

var tcpSummaryRe = regexp.MustCompile(`(\d+) TCP events reported, (\d+) matched in the kernel, (\d+) events lost`)

// tcpSummary reads droptrace's TCP summary line from stderr.
func tcpSummary(t *testing.T, stderr string) (reported, matched, lost int) {
	t.Helper()
	m := tcpSummaryRe.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no TCP summary line in stderr:\n%s", stderr)
	}
	reported, _ = strconv.Atoi(m[1])
	matched, _ = strconv.Atoi(m[2])
	lost, _ = strconv.Atoi(m[3])
	return reported, matched, lost
}

func eventTime(t *testing.T, ev tcpEvent) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, ev.Time)
	if err != nil {
		t.Fatalf("event time %q: %v", ev.Time, err)
	}
	return at
}

func isTCPEventKind(kind string) bool {
	return strings.HasPrefix(kind, "retransmit") || strings.HasPrefix(kind, "reset_")
}

// waitClosed waits until the client has no socket to port left but
// TIME_WAIT ones, which retransmit nothing.
func (tp *topology) waitClosed(t *testing.T, port int, limit time.Duration) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the client's sockets to port %d to close", port), limit, func() error {
		out := tp.in(t, tp.client, "ss", "-tnH", "state", "all", "exclude", "time-wait", "exclude", "listening",
			fmt.Sprintf("( dport = :%d )", port))
		if strings.TrimSpace(out) == "" {
			return nil
		}
		return fmt.Errorf("still open:\n%s", out)
	})
}
