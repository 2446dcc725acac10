package explain

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/nsfs"
)

// The run loop's annotation stage takes an Explainer as it is.
var _ interface{ Annotate(*event.Event) } = (*Explainer)(nil)

// fakeClock is a settable time.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func noSocket(port uint16) *event.Event {
	return &event.Event{Kind: event.KindDrop, Reason: "NO_SOCKET", Location: "__udp4_lib_rcv+0x4bc", Netns: 1,
		Proto: "udp", Dst: netip.MustParseAddr("10.0.0.2"), Dport: port}
}

func testExplainer(perSecond int, result func() (finding, error)) (*Explainer, *fakeClock, *int) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	cfg := DefaultConfig()
	cfg.PerSecond = perSecond
	x := New(nsfs.NewIndex(), cfg)
	x.now, x.lastRefill = clock.now, clock.t
	calls := 0
	x.lookup = func(probeKind, *event.Event) (finding, error) { calls++; return result() }
	return x, clock, &calls
}

// TestBounds: one look-up per key per interval, shared by the drops of
// that key; a budget per second over all keys; what is skipped counted.
func TestBounds(t *testing.T) {
	x, clock, calls := testExplainer(3, func() (finding, error) { return finding{evidence: kv("listeners", "0")}, nil })
	for port := range uint16(10) {
		for range 5 {
			ev := noSocket(port)
			x.Annotate(ev)
			if ev.Explain == nil || ev.Explain.Cause == "" {
				t.Fatalf("drop without explanation")
			}
		}
	}
	// 3 keys looked up, their 4 later drops each cached; 7 keys over budget, 5 drops each.
	want := Stats{Explained: 50, Lookups: 3, Cached: 12, Skipped: 35}
	if st := x.Stats(); st != want || *calls != 3 {
		t.Errorf("stats %+v (%d calls), want %+v", st, *calls, want)
	}
	skipped := noSocket(99)
	x.Annotate(skipped)
	if got := skipped.Explain.Evidence; len(got) != 1 || got[0].Key != "lookup" {
		t.Errorf("a skipped look-up shows %v, want it said", got)
	}
	clock.t = clock.t.Add(2 * time.Second) // the budget refills, the cache expires
	ev := noSocket(0)
	x.Annotate(ev)
	if st := x.Stats(); st.Lookups != 4 || len(ev.Explain.Evidence) != 1 {
		t.Errorf("after the interval: stats %+v, evidence %v; want a new look-up", st, ev.Explain.Evidence)
	}
	if len(x.cache) != 1 {
		t.Errorf("cache holds %d keys after the interval, want 1", len(x.cache))
	}
}

func TestLookupFailure(t *testing.T) {
	x, _, _ := testExplainer(10, func() (finding, error) { return finding{}, errors.New("netns 1: network namespace not found") })
	ev := noSocket(53)
	x.Annotate(ev)
	if st := x.Stats(); st.Failed != 1 || len(ev.Explain.Evidence) != 1 || ev.Explain.Evidence[0].Key != "lookup_error" {
		t.Errorf("stats %+v, evidence %v: want the failure counted and shown", st, ev.Explain.Evidence)
	}
	if ev.Explain.Cause == "" {
		t.Error("a failed look-up lost the static cause")
	}
}

// TestNetfilterHook: NETFILTER_DROP takes its evidence from the netfilter
// annotator's result through Config.Netfilter, and looks nothing up.
func TestNetfilterHook(t *testing.T) {
	x, _, calls := testExplainer(10, func() (finding, error) { return finding{}, nil })
	x.cfg.Netfilter = func(ev *event.Event) []event.Evidence {
		return kv("table", "inet filter", "chain", "input", "rule", "udp dport 53 drop")
	}
	ev := &event.Event{Kind: event.KindDrop, Reason: "NETFILTER_DROP", Location: "nft_do_chain+0x46f", Netns: 1}
	x.Annotate(ev)
	if got := ev.Explain.Evidence; len(got) != 3 || got[2].Value != "udp dport 53 drop" || *calls != 0 {
		t.Errorf("evidence %v, %d look-ups", got, *calls)
	}
	x.cfg.Netfilter = nil
	ev.Explain = nil
	x.Annotate(ev)
	if ev.Explain == nil || ev.Explain.Evidence != nil {
		t.Errorf("without the hook: %+v, want the cause alone", ev.Explain)
	}
}

func TestNotADrop(t *testing.T) {
	x, _, _ := testExplainer(10, func() (finding, error) { return finding{}, nil })
	ev := &event.Event{Kind: event.KindRetransmit, Reason: "NO_SOCKET"}
	x.Annotate(ev)
	if ev.Explain != nil {
		t.Error("a retransmit was explained")
	}
}
