package netfilter

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/netfilter/nftest"
	"github.com/droptrace/droptrace/nsfs"
)

func TestParseConntrackStat(t *testing.T) {
	stat := "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new\n" +
		"00000003  00000000 00000000 00000000 0000000a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001  00000000\n" +
		"00000003  00000000 00000000 00000000 00000010 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000\n"
	got, err := parseConntrackStat(stat)
	if err != nil || got != 10+16+1 {
		t.Errorf("got %d, %v; want 27", got, err)
	}
	if _, err := parseConntrackStat("entries found\n"); err == nil {
		t.Error("no CPU lines: no error")
	}
}

func TestSaveString(t *testing.T) {
	for in, want := range map[string]string{
		"hello": " hello", "my comment": ` "my comment"`, `a"b`: ` "a\"b"`, "": ` ""`, "a.b": ` "a.b"`,
	} {
		if got := saveString(in); got != want {
			t.Errorf("saveString(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIntervalSetContains(t *testing.T) {
	// { 100-200, 300 } as the kernel dumps it: starts, and exclusive ends.
	s := &Set{Interval: true, KeyLen: 2, Elements: []nftables.SetElement{
		{Key: []byte{0, 0}, IntervalEnd: true}, {Key: []byte{0, 100}}, {Key: []byte{0, 201}, IntervalEnd: true},
		{Key: []byte{1, 44}}, {Key: []byte{1, 45}, IntervalEnd: true},
	}}
	for port, want := range map[uint16]tri{99: no, 100: yes, 200: yes, 201: no, 300: yes, 301: no} {
		if got := s.contains([]byte{byte(port >> 8), byte(port)}); got != want {
			t.Errorf("port %d: got %v, want %v", port, got, want)
		}
	}
}

// TestUnknownFieldIsMaybe: a rule reading what the event does not carry
// is undecided, and one contradicted by a known field is not matched.
func TestUnknownFieldIsMaybe(t *testing.T) {
	tb := &Table{Family: nftables.TableFamilyINet}
	c := &Chain{Table: tb}
	rule := func(exprs ...expr.Any) *Rule { return &Rule{Chain: c, Exprs: exprs} }
	pkt := &Packet{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: protoTCP, ProtoKnown: true, Dport: 80}
	oifname := rule(&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Cmp{Register: 1, Data: []byte("eth0\x00")})
	wrongPort := rule(&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Cmp{Register: 1, Data: []byte("eth0\x00")},
		&expr.Payload{Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2, DestRegister: 1}, &expr.Cmp{Register: 1, Data: []byte{0, 81}})
	ctState := rule(&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{1, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}})
	ev := newEvaluator(pkt, tb)
	for name, tc := range map[string]struct {
		r          *Rule
		notInvalid bool
		want       tri
	}{
		"oifname unknown":            {oifname, false, maybe},
		"known field contradicts":    {wrongPort, false, no},
		"ct state unknown":           {ctState, false, maybe},
		"conntrack saw none invalid": {ctState, true, no},
	} {
		ev.notInvalid = tc.notInvalid
		if got := ev.matches(tc.r); got != tc.want {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
	}
}

// TestBaseline: New reads the namespaces it can see, so that their first
// drops have a read to compare counters with.
func TestBaseline(t *testing.T) {
	requireRoot(t)
	ns := textNamespace(t)
	cfg := DefaultConfig()
	cfg.Baseline, cfg.BaselineTime = 1<<20, time.Minute
	a := New(nsfs.NewIndex(), cfg)
	defer a.Close()
	st, ok := a.ns[nftest.Inode(t, ns)]
	if !ok || len(st.reads) != 1 || len(st.reads[0].Tables) == 0 {
		t.Fatalf("namespace %s not read at start (%d namespaces read)", ns, len(a.ns))
	}
	t.Logf("%d namespaces read at start", a.Stats().Reads)
}

// The run loop's annotation stage runs it.
var _ interface{ Annotate(*event.Event) } = (*Annotator)(nil)
