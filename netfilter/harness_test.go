package netfilter

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/netfilter/nftest"
	"github.com/droptrace/droptrace/nsfs"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("netfilter tests need root, and CI=true forbids skipping them")
	}
	t.Skip("SKIPPED: netfilter tests need root")
}

// eventOf is the probe's drop as the tracer decodes it.
func eventOf(t *testing.T, p nftest.Probe) *event.Event {
	return &event.Event{
		Time: time.Now(), Kind: event.KindDrop, Reason: "NETFILTER_DROP", Netns: nftest.Inode(t, p.DropNs),
		Ifname: p.DropIf, Proto: p.Proto, Src: netip.MustParseAddr(p.Src), Dst: netip.MustParseAddr(p.Dst),
		Sport: p.Sport, Dport: p.Dport,
	}
}

// testAnnotator annotates without a baseline of every namespace of the
// machine, and reads the ruleset at every drop.
func testAnnotator(t *testing.T) *Annotator {
	cfg := DefaultConfig()
	cfg.Baseline, cfg.Interval, cfg.ReadCost, cfg.ReadsPerSecond = 0, 0, 0, 1000
	a := New(nsfs.NewIndex(), cfg)
	t.Cleanup(func() { a.Close() })
	return a
}
