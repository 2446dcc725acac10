package event

import (
	"net/netip"
	"testing"
	"time"
)

func TestKindIsTCP(t *testing.T) {
	tests := []struct {
		kind Kind
		want bool
	}{
		{KindDrop, false}, {KindTrace, false}, {KindConsume, false},
		{KindRetransmit, true}, {KindRetransmitSynack, true},
		{KindResetSent, true}, {KindResetReceived, true},
		{Kind("kind9"), false},
	}
	for _, tt := range tests {
		if got := tt.kind.IsTCP(); got != tt.want {
			t.Errorf("%s.IsTCP() = %v, want %v", tt.kind, got, tt.want)
		}
	}
}

func TestTCPStateName(t *testing.T) {
	tests := []struct {
		state uint8
		want  string
	}{{0, ""}, {1, "ESTABLISHED"}, {10, "LISTEN"}, {12, "NEW_SYN_RECV"}, {13, "BOUND_INACTIVE"}, {14, "STATE14"}, {200, "STATE200"}}
	for _, tt := range tests {
		if got := TCPStateName(tt.state); got != tt.want {
			t.Errorf("TCPStateName(%d) = %q, want %q", tt.state, got, tt.want)
		}
	}
}

func TestReasonText(t *testing.T) {
	tests := []struct {
		name string
		code uint32
		want string
	}{{"NO_SOCKET", 2, "NO_SOCKET"}, {"", 77, "77"}, {"", 0, ""}}
	for _, tt := range tests {
		if got := ReasonText(tt.name, tt.code); got != tt.want {
			t.Errorf("ReasonText(%q, %d) = %q, want %q", tt.name, tt.code, got, tt.want)
		}
	}
}

func TestSummaryKeyOfEvent(t *testing.T) {
	ev := &Event{Kind: KindDrop, Reason: "NO_SOCKET", ReasonCode: 2, Location: "f+0x1", LocationAddr: 9,
		Netns: 4026531840, Ifindex: 3, Ifname: "veth0", Proto: "udp", Src: netip.MustParseAddr("10.0.0.1"), Sport: 5}
	want := SummaryKey{Reason: "NO_SOCKET", ReasonCode: 2, Location: "f+0x1", LocationAddr: 9,
		Netns: 4026531840, Ifindex: 3, Ifname: "veth0", Proto: "udp"}
	if got := ev.SummaryKey(); got != want {
		t.Errorf("SummaryKey() = %+v, want %+v", got, want)
	}
}

func TestIntervalAndTotals(t *testing.T) {
	a, b := SummaryKey{Reason: "A"}, SummaryKey{Reason: "B"}
	prev := Counts{a: 10, b: 5}
	cur := Counts{a: 10, b: 25}
	rows := Interval(prev, cur, 2*time.Second)
	if len(rows) != 1 || rows[0].Key != b || rows[0].Count != 20 || rows[0].Total != 25 || rows[0].Rate != 10 {
		t.Errorf("Interval = %+v, want one row of B: 20 new, 25 total, 10/s", rows)
	}
	tot := Totals(cur, 0)
	if len(tot) != 2 || tot[0].Key != b || tot[1].Key != a || tot[0].Rate != 0 {
		t.Errorf("Totals = %+v, want B then A, rate 0 for no elapsed time", tot)
	}
}

func TestCtStateName(t *testing.T) {
	for bits, want := range map[uint8]string{0: "", 1: "invalid", 2: "established", 4: "related", 8: "new", 64: "untracked", 10: "established,new"} {
		if got := CtStateName(bits); got != want {
			t.Errorf("CtStateName(%d) = %q, want %q", bits, got, want)
		}
	}
}
