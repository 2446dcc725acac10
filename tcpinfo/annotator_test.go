package tcpinfo

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

// tcpEvent is a retransmit of the flow from 10.0.0.1:port to 10.0.0.2:80;
// seq is kept in Len so the test can check the order of what is written.
func tcpEvent(port uint16, seq uint32) *event.Event {
	return &event.Event{
		Kind: event.KindRetransmit, Proto: "tcp", Netns: 4026531840, Len: seq,
		Src: netip.MustParseAddr("10.0.0.1"), Sport: port,
		Dst: netip.MustParseAddr("10.0.0.2"), Dport: 80,
		TCPState: "ESTABLISHED", SockSrcLocal: true, SockCookie: 7,
	}
}

func udpDrop(seq uint32) *event.Event {
	return &event.Event{Kind: "drop", Proto: "udp", Netns: 4026531840, Len: seq,
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2")}
}

// recorder is a Lookup that notes when each look-up started.
type recorder struct {
	mu     sync.Mutex
	starts map[Flow][]time.Time
	delay  time.Duration
	result func() (*event.TCPInfo, error)
}

func newRecorder() *recorder {
	return &recorder{starts: map[Flow][]time.Time{}, result: func() (*event.TCPInfo, error) {
		return &event.TCPInfo{State: "ESTABLISHED", RTO: 204000}, nil
	}}
}

func (r *recorder) lookup(f Flow, cookie uint64) (*event.TCPInfo, error) {
	start := time.Now()
	r.mu.Lock()
	r.starts[f] = append(r.starts[f], start)
	r.mu.Unlock()
	time.Sleep(r.delay)
	info, err := r.result()
	if info != nil {
		info = new(*info)
		// Smuggle the start time out so the test can check it followed the event.
		info.DeliveryRate = uint64(start.UnixNano())
	}
	return info, err
}

// run adds evs through an Annotator, every gap, and returns what Drain
// wrote and the times each event was added.
func run(t *testing.T, a *Annotator, evs []*event.Event, gap time.Duration) ([]*event.Event, []time.Time) {
	t.Helper()
	var got []*event.Event
	drained := make(chan error, 1)
	go func() {
		drained <- a.Drain(func(ev *event.Event) error { got = append(got, ev); return nil }, nil)
	}()
	added := make([]time.Time, len(evs))
	for i, ev := range evs {
		added[i] = time.Now()
		if err := a.Add(ev); err != nil {
			t.Fatalf("Add: %v", err)
		}
		time.Sleep(gap)
	}
	a.Close()
	if err := <-drained; err != nil {
		t.Fatalf("Drain: %v", err)
	}
	return got, added
}

func checkOrder(t *testing.T, got []*event.Event, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("wrote %d events, want %d", len(got), n)
	}
	for i, ev := range got {
		if ev.Len != uint32(i) {
			t.Fatalf("event %d written in place %d: order not kept", ev.Len, i)
		}
	}
}

// TestCoalescing sends a burst on one flow: look-ups must be at least
// Interval apart, every event annotated, each by a look-up that started
// after the event was added.
func TestCoalescing(t *testing.T) {
	r := newRecorder()
	cfg := DefaultConfig()
	a := New(r.lookup, cfg)
	const n = 400
	evs := make([]*event.Event, n)
	for i := range evs {
		evs[i] = tcpEvent(1000, uint32(i))
	}
	got, added := run(t, a, evs, time.Millisecond)
	checkOrder(t, got, n)

	starts := r.starts[Flow{Netns: 4026531840, Local: netip.MustParseAddrPort("10.0.0.1:1000"), Remote: netip.MustParseAddrPort("10.0.0.2:80")}]
	for i := 1; i < len(starts); i++ {
		if d := starts[i].Sub(starts[i-1]); d < cfg.Interval-time.Millisecond {
			t.Errorf("look-ups %d and %d only %v apart, want >= %v", i-1, i, d, cfg.Interval)
		}
	}
	span := added[n-1].Sub(added[0])
	if max := int(span/cfg.Interval) + 2; len(starts) > max || len(starts) < 2 {
		t.Errorf("%d look-ups for a %v burst, want 2..%d", len(starts), span, max)
	}
	for i, ev := range got {
		if ev.TCPInfo == nil {
			t.Fatalf("event %d not annotated; stats %+v", i, a.Stats())
		}
		if started := time.Unix(0, int64(ev.TCPInfo.DeliveryRate)); started.Before(added[i]) {
			t.Errorf("event %d annotated by a look-up that started %v before it", i, added[i].Sub(started))
		}
	}
	st := a.Stats()
	if st.Annotated != n || st.Lookups != uint64(len(starts)) || st.Coalesced != n-st.Lookups {
		t.Errorf("stats %+v: want %d annotated, %d look-ups, the rest coalesced", st, n, len(starts))
	}
}

// TestSlowLookup: with a look-up that hangs, Add must still return at
// once, every event must be written in order without tcp_info after at
// most Wait, and each be counted as timed out or refused for a full queue.
func TestSlowLookup(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	slow := func(Flow, uint64) (*event.TCPInfo, error) {
		<-release
		return &event.TCPInfo{}, nil
	}
	cfg := Config{Interval: 100 * time.Millisecond, Wait: 50 * time.Millisecond, Queue: 4, Workers: 1, Backlog: 1 << 14}
	a := New(slow, cfg)
	const n = 10000
	evs := make([]*event.Event, n)
	for i := range evs {
		if i%2 == 0 {
			evs[i] = udpDrop(uint32(i))
		} else {
			evs[i] = tcpEvent(uint16(i%5000), uint32(i)) // 2500 flows
		}
	}
	start := time.Now()
	var got []*event.Event
	drained := make(chan error, 1)
	go func() {
		drained <- a.Drain(func(ev *event.Event) error { got = append(got, ev); return nil }, nil)
	}()
	for _, ev := range evs {
		if err := a.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	// The look-ups never finish, so Adds that waited for them would take
	// at least Wait each: n/2 times Wait for the TCP events, 250 s. The
	// bound is a tenth of that, which a busy machine does not reach.
	serial := time.Duration(n/2) * cfg.Wait
	if d := time.Since(start); d > serial/10 {
		t.Errorf("adding took %v: Adds waited for look-ups", d)
	}
	a.Close()
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	checkOrder(t, got, n)
	if d := time.Since(start); d > serial/10 {
		t.Errorf("writing took %v: events waited for look-ups one after another, not at most Wait each", d)
	}
	for _, ev := range got {
		if ev.TCPInfo != nil {
			t.Fatalf("event %d annotated by a look-up that never finished", ev.Len)
		}
	}
	st := a.Stats()
	if st.TimedOut == 0 || st.QueueFull == 0 || st.TimedOut+st.QueueFull != n/2 {
		t.Errorf("stats %+v: want the %d TCP events split between timed out and queue full, both > 0", st, n/2)
	}
}

func TestLookupResults(t *testing.T) {
	tests := []struct {
		name   string
		result func() (*event.TCPInfo, error)
		check  func(*event.TCPInfo) bool
		stats  Stats
	}{
		{"gone", func() (*event.TCPInfo, error) { return &event.TCPInfo{Gone: true}, nil },
			func(ti *event.TCPInfo) bool { return ti != nil && ti.Gone },
			Stats{Annotated: 1, Gone: 1, Lookups: 1}},
		{"failing", func() (*event.TCPInfo, error) { return nil, errors.New("netns not found") },
			func(ti *event.TCPInfo) bool { return ti == nil },
			Stats{Failed: 1, Lookups: 1}},
		{"found", func() (*event.TCPInfo, error) { return &event.TCPInfo{State: "ESTABLISHED", RTO: 408000}, nil },
			func(ti *event.TCPInfo) bool { return ti != nil && !ti.Gone && ti.RTO == 408000 },
			Stats{Annotated: 1, Lookups: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecorder()
			r.result = tt.result
			a := New(r.lookup, DefaultConfig())
			got, _ := run(t, a, []*event.Event{tcpEvent(1, 0), udpDrop(1)}, 0)
			checkOrder(t, got, 2)
			if !tt.check(got[0].TCPInfo) {
				t.Errorf("tcp_info %+v", got[0].TCPInfo)
			}
			if got[1].TCPInfo != nil {
				t.Errorf("a UDP drop got tcp_info")
			}
			if st := a.Stats(); st != tt.stats {
				t.Errorf("stats %+v, want %+v", st, tt.stats)
			}
		})
	}
}

// TestDrainStop: once the writer stops (--count reached), Add returns its
// error instead of blocking on a full backlog.
func TestDrainStop(t *testing.T) {
	stop := errors.New("stop")
	a := New(newRecorder().lookup, Config{Interval: time.Millisecond, Wait: time.Second, Queue: 4, Workers: 1, Backlog: 2})
	written := 0
	drained := make(chan error, 1)
	go func() {
		drained <- a.Drain(func(*event.Event) error {
			if written++; written == 3 {
				return stop
			}
			return nil
		}, nil)
	}()
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = a.Add(udpDrop(uint32(i)))
	}
	if !errors.Is(err, stop) {
		t.Errorf("Add after the writer stopped: %v, want %v", err, stop)
	}
	if err := <-drained; !errors.Is(err, stop) {
		t.Errorf("Drain: %v", err)
	}
}

func TestFlowOf(t *testing.T) {
	local := netip.MustParseAddrPort("10.0.0.1:1000")
	remote := netip.MustParseAddrPort("10.0.0.2:80")
	ingress := tcpEvent(1000, 0)
	ingress.Kind, ingress.SockSrcLocal = "drop", false
	ingress.Src, ingress.Sport, ingress.Dst, ingress.Dport = remote.Addr(), remote.Port(), local.Addr(), local.Port()
	tests := []struct {
		name   string
		ev     *event.Event
		want   Flow
		wantOK bool
	}{
		{"retransmit: source is local", tcpEvent(1000, 0), Flow{4026531840, local, remote}, true},
		{"drop of an incoming packet: destination is local", ingress, Flow{4026531840, local, remote}, true},
		{"udp", udpDrop(0), Flow{}, false},
		{"time-wait socket", func() *event.Event { e := tcpEvent(1000, 0); e.TCPState = "TIME_WAIT"; return e }(), Flow{}, false},
		{"request socket", func() *event.Event { e := tcpEvent(1000, 0); e.TCPState = "NEW_SYN_RECV"; return e }(), Flow{}, false},
		{"no socket", func() *event.Event { e := tcpEvent(1000, 0); e.TCPState = ""; return e }(), Flow{}, false},
		{"no netns", func() *event.Event { e := tcpEvent(1000, 0); e.Netns = 0; return e }(), Flow{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FlowOf(tt.ev)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %+v %v, want %+v %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestMergeAtEvent: an event that carries the socket's state read at the
// event keeps it; the look-up adds the queues, the delivery rate and
// whether the socket is gone, and events sharing a look-up do not share
// their state.
func TestMergeAtEvent(t *testing.T) {
	r := newRecorder()
	r.result = func() (*event.TCPInfo, error) {
		return &event.TCPInfo{Gone: true, State: "TIME_WAIT", RTO: 999, RcvQueue: 5, SendQueue: 6}, nil
	}
	a := New(r.lookup, DefaultConfig())
	evs := []*event.Event{tcpEvent(1, 0), tcpEvent(1, 1), udpDrop(2)}
	for i, ev := range evs[:2] {
		ev.TCPInfo = &event.TCPInfo{AtEvent: true, State: "ESTABLISHED", RTO: 204000, TotalRetrans: uint32(i + 1)}
	}
	got, _ := run(t, a, evs, 0)
	checkOrder(t, got, 3)
	for i, ev := range got[:2] {
		ti := ev.TCPInfo
		want := event.TCPInfo{AtEvent: true, LookedUp: true, Gone: true, State: "ESTABLISHED", RTO: 204000,
			TotalRetrans: uint32(i + 1), RcvQueue: 5, SendQueue: 6, DeliveryRate: ti.DeliveryRate}
		if *ti != want {
			t.Errorf("event %d: tcp_info %+v, want %+v", i, *ti, want)
		}
		if evs[i].TCPInfo.LookedUp {
			t.Errorf("event %d: the caller's event was changed", i)
		}
	}
	if st := a.Stats(); st.AtEvent != 2 || st.Annotated != 2 || st.Gone != 2 {
		t.Errorf("stats %+v, want 2 at the event, 2 annotated, 2 gone", st)
	}
}
