package output

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

func TestTextGolden(t *testing.T) {
	var buf bytes.Buffer
	w := NewText(&buf)
	for _, ev := range testEvents(time.Local) {
		if err := w.Write(ev); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkGolden(t, "text.golden", buf.Bytes())
}

// TestTextStreams checks that each line reaches the writer with its event,
// not when the writer is closed, and that the header comes once.
func TestTextStreams(t *testing.T) {
	var buf bytes.Buffer
	w := NewText(&buf)
	for i, ev := range testEvents(time.Local)[:3] {
		if err := w.Write(ev); err != nil {
			t.Fatalf("Write: %v", err)
		}
		got := strings.Count(buf.String(), "\n")
		if want := i + 2; got != want {
			t.Errorf("after event %d: got %d lines, want %d", i, got, want)
		}
	}
	if got := strings.Count(buf.String(), "TIME"); got != 1 {
		t.Errorf("got %d header lines, want 1", got)
	}
}

// TestTextColumnsAlign checks that IPv4 and no-IP lines put the columns
// after the tuple where the header has them.
func TestTextColumnsAlign(t *testing.T) {
	var buf bytes.Buffer
	w := NewText(&buf)
	events := testEvents(time.Local)
	aligned := []*event.Event{events[0], events[2], events[3], events[5]} // IPv4 TCP, ICMP, no IP, retransmit
	for _, ev := range aligned {
		if err := w.Write(ev); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := strings.Index(lines[0], "REASON")
	for i, ev := range aligned {
		line := lines[i+1]
		if got := strings.LastIndex(line, " "+orDash(reasonText(ev))+" ") + 1; got != want {
			t.Errorf("REASON column starts at %d, want %d in line\n%s", got, want, line)
		}
	}
}

func TestReasonText(t *testing.T) {
	tests := []struct {
		name string
		ev   event.Event
		want string
	}{
		{"named", event.Event{Kind: "drop", Reason: "NO_SOCKET", ReasonCode: 3}, "NO_SOCKET"},
		{"unnamed code", event.Event{Kind: "drop", ReasonCode: 77}, "77"},
		{"no reasons", event.Event{Kind: "drop"}, ""},
		{"other kind", event.Event{Kind: "retransmit"}, "retransmit"},
		{"other kind with reason", event.Event{Kind: "trace", Reason: "NOT_SPECIFIED"}, "NOT_SPECIFIED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reasonText(&tt.ev); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestTextWriteError(t *testing.T) {
	err := NewText(failingWriter{}).Write(testEvents(time.Local)[0])
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("got error %v, want one wrapping %q", err, "disk full")
	}
}

func TestTCPText(t *testing.T) {
	events := testEvents(time.UTC)
	tests := []struct {
		name string
		ev   *event.Event
		want string
	}{
		{"looked up", events[5], " state=ESTABLISHED rtt=1.2ms rto=204ms retrans=3/7 cwnd=10"},
		{"at the event, gone after", events[6], " state=SYN_SENT rtt=0ms rto=1000ms retrans=0/0 cwnd=10 gone"},
		{"gone, no sample", &event.Event{TCPState: "SYN_SENT", TCPInfo: &event.TCPInfo{Gone: true, LookedUp: true}}, " state=SYN_SENT gone"},
		{"no socket", events[0], ""},
		{"socket not looked up", &event.Event{TCPState: "TIME_WAIT"}, " state=TIME_WAIT"},
		{"sub-millisecond", &event.Event{TCPInfo: &event.TCPInfo{RTT: 52, RTO: 201000}}, " rtt=0.052ms rto=201ms retrans=0/0 cwnd=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendTCPText(nil, tt.ev)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTCPFlagsText(t *testing.T) {
	for _, tt := range []struct {
		flags uint8
		want  string
	}{
		{0, ""}, {0x02, "S"}, {0x12, "SA"}, {0x10, "A"}, {0x18, "PA"}, {0x11, "FA"},
		{0x04, "R"}, {0x14, "RA"}, {0xc2, "SEC"}, {0xff, "FSRPAUEC"},
	} {
		if got := TCPFlagsText(tt.flags); got != tt.want {
			t.Errorf("TCPFlagsText(%#x) = %q, want %q", tt.flags, got, tt.want)
		}
	}
}

// TestTextRepeatedEvents checks that a line kept from the event before
// (the columns a storm's events share) is the line a fresh writer
// prints: each event is written twice in a row, then once more after
// the others, and every line must match the one its event alone gives.
func TestTextRepeatedEvents(t *testing.T) {
	events := testEvents(time.Local)
	// The first event again in namespaces named otherwise, and longer.
	for _, p := range []*event.Pod{{NetnsName: "blue"}, {NetnsName: "blue", Name: "web", Namespace: "default"}, {NetnsName: "red"}} {
		ev := *events[0]
		ev.Pod = p
		events = append(events, &ev)
	}
	longer := *events[0]
	longer.Len++
	events = append(events[:1], append([]*event.Event{&longer}, events[1:]...)...)
	alone := make([]string, len(events))
	for i, ev := range events {
		var buf bytes.Buffer
		if err := NewText(&buf).Write(ev); err != nil {
			t.Fatalf("Write: %v", err)
		}
		alone[i] = buf.String()[strings.Index(buf.String(), "\n")+1:]
	}
	var buf bytes.Buffer
	w := NewText(&buf)
	var want strings.Builder
	order := []int{}
	for i := range events {
		order = append(order, i, i)
	}
	for i := range events {
		order = append(order, len(events)-1-i)
	}
	for _, i := range order {
		if err := w.Write(events[i]); err != nil {
			t.Fatalf("Write: %v", err)
		}
		want.WriteString(alone[i])
	}
	got := buf.String()[strings.Index(buf.String(), "\n")+1:]
	if got != want.String() {
		t.Errorf("lines differ from each event's own:\ngot:\n%s\nwant:\n%s", got, want.String())
	}
}

// TestClockText checks the TIME column against time's own formatting,
// across microseconds with leading zeros, nines and a change of second.
func TestClockText(t *testing.T) {
	var c clockText
	base := time.Date(2026, 12, 2, 13, 4, 5, 0, time.Local)
	for _, ns := range []int{0, 1000, 9000, 10000, 100000, 123456000, 999999000, 999999999, 1_000_001_000, 59_000_000_000 + 7000} {
		at := base.Add(time.Duration(ns))
		if got, want := string(c.append(nil, at)), at.Format("15:04:05.000000"); got != want {
			t.Errorf("%v: got %q, want %q", at, got, want)
		}
	}
}

// TestPacketColsCache checks the kept columns against formatting each
// event afresh, over more places and flows than are kept, in an order
// that revisits them, and with lengths that change at every event.
func TestPacketColsCache(t *testing.T) {
	pod := &event.Pod{Namespace: "shop", Name: "web"}
	var places []event.Event
	for i := range recentSize + 4 {
		ev := event.Event{Netns: uint32(4026531840 + i%3), Ifname: []string{"eth0", "veth1", ""}[i%3],
			Proto: []string{"tcp", "udp"}[i%2], Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}),
			Sport: uint16(40000 + i), Dport: 5201}
		if i%4 == 0 {
			ev.Pod = pod
		}
		places = append(places, ev)
	}
	var c packetColsText
	for n := range 200 {
		ev := places[(n*7+n/5)%len(places)]
		ev.Len = uint32(n * 37)
		got, want := string(c.append(nil, &ev)), string(appendPacketCols(nil, &ev))
		if got != want {
			t.Fatalf("event %d: kept columns %q, formatted afresh %q", n, got, want)
		}
	}
}

// TestLenCol checks the LEN column against fmt's "%5d", for lengths of
// every digit count, wider than the column too.
func TestLenCol(t *testing.T) {
	for _, n := range []uint32{0, 7, 10, 60, 99, 100, 1500, 9999, 10000, 65535, 99999, 100000, 569070520, math.MaxUint32} {
		if got, want := string(appendLenCol([]byte("x"), n)), fmt.Sprintf("x%5d", n); got != want {
			t.Errorf("%d: got %q, want %q", n, got, want)
		}
	}
}
