package netfilter

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/droptrace/droptrace/netfilter/nftest"
	"github.com/droptrace/droptrace/nsfs"
)

// TestStormBudget drops a storm with one rule: the ruleset is read at
// most once per interval, the other drops are attributed from the reads
// there are, and every drop still names its rule.
func TestStormBudget(t *testing.T) {
	requireRoot(t)
	tp := nftest.NewTopo(t)
	nftest.AddIptablesRules(t, tp)
	nftest.KeepRuleset(t, tp.Router)
	cfg := DefaultConfig()
	cfg.Baseline = 0
	cfg.ReadCost = 0 // the interval alone spaces reads, whatever a read costs on a busy machine
	a := New(nsfs.NewIndex(), cfg)
	defer a.Close()
	if err := a.Prime(nftest.Inode(t, tp.Router)); err != nil {
		t.Fatal(err)
	}
	p := nftest.IptablesProbes(tp)[2] // udp/5353, INPUT #3 DROP
	// At least 5000 drops, over more than three intervals.
	n, start := 0, time.Now()
	nftest.RunInNetns(t, tp.Client, func() error {
		c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(p.Src), p.Sport)),
			net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(p.Dst), p.Dport)))
		if err != nil {
			return err
		}
		defer c.Close()
		for ; n < 5000 || time.Since(start) < 350*time.Millisecond; n++ {
			if _, err := c.Write([]byte("storm")); err != nil {
				return err
			}
			ev := eventOf(t, p)
			a.Annotate(ev)
			if nf := ev.Netfilter; nf == nil || nf.Rule == nil || nf.Rule.Position != 3 || nf.Chain != "INPUT" {
				t.Errorf("storm drop attributed to %+v", nf)
				return nil
			}
		}
		return nil
	})
	elapsed := time.Since(start)
	st := a.Stats()
	t.Logf("%d drops in %v: %+v", n, elapsed, st)
	maxReads := uint64(elapsed/cfg.Interval) + 2 // the baseline, and one per interval
	if st.Reads > maxReads || st.Reads < 2 {
		t.Errorf("%d ruleset reads for %d drops in %v, want 2 to %d", st.Reads, n, elapsed, maxReads)
	}
	if st.Counter+st.Replayed != uint64(n) || st.ReadsSkipped == 0 || st.Cached == 0 {
		t.Errorf("stats %+v: want %d attributed, look-ups skipped", st, n)
	}
}
