package netfilter

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/droptrace/droptrace/event"
)

// maxSplitNamespaces bounds the namespaces whose rules are read per
// summary interval; the rows of others stay whole, counted.
const maxSplitNamespaces = 16

// maxRuleTotals bounds the per-rule totals kept for the final summary.
const maxRuleTotals = 4096

// SplitStats counts what SplitRows did.
type SplitStats struct {
	Split     uint64 // NETFILTER_DROP rows split by rule
	Ambiguous uint64 // rows left whole: their namespace had several, which share its rules' counters
	Skipped   uint64 // rows left whole: namespace budget or read refused, or namespace gone
}

// splitState is what SplitRows keeps between intervals.
type splitState struct {
	totals map[splitKey]uint64 // drops per row key and rule, over the run
	names  map[splitKey]*event.Netfilter
	stats  SplitStats
}

type splitKey struct {
	row  event.SummaryKey
	rule ruleKey // the zero key: unattributed
	pol  bool
}

// ruleDelta is a rule (or chain policy) and the packets its counter
// counted in an interval.
type ruleDelta struct {
	out Outcome
	n   uint64
}

// SplitRows splits each NETFILTER_DROP row of an interval into a row per
// rule by the counters of its namespace's rules between this read and the
// last: a rule whose counter moved by n takes up to n of the row's drops
// (certainty "counter"), the remainder stays unattributed (Netfilter nil).
// It reads each namespace at most once per call, for at most
// maxSplitNamespaces namespaces, within the Annotator's read budget. A
// namespace with several NETFILTER_DROP rows (devices, protocols) is not
// split: the rules' counters do not say which row they counted.
func (a *Annotator) SplitRows(rows []event.SummaryRow) []event.SummaryRow {
	if a.split.totals == nil {
		a.split.totals = map[splitKey]uint64{}
	}
	byNs := map[uint32][]int{}
	for i, r := range rows {
		if r.Key.Reason == reasonNetfilterDrop && r.Key.Netns != 0 {
			byNs[r.Key.Netns] = append(byNs[r.Key.Netns], i)
		}
	}
	splits := map[int][]event.SummaryRow{}
	read := 0
	for ino, idx := range byNs {
		if len(idx) > 1 {
			a.split.stats.Ambiguous += uint64(len(idx))
			continue
		}
		deltas, ok := a.ruleDeltas(ino, &read)
		if !ok {
			a.split.stats.Skipped++
			continue
		}
		splits[idx[0]] = a.splitRow(rows[idx[0]], deltas)
		a.split.stats.Split++
	}
	if len(splits) == 0 {
		return rows
	}
	out := make([]event.SummaryRow, 0, len(rows)+len(splits))
	for i, r := range rows {
		if s, ok := splits[i]; ok {
			out = append(out, s...)
		} else {
			out = append(out, r)
		}
	}
	return out
}

// SplitTotals splits the final totals' NETFILTER_DROP rows as the
// intervals were split: by the drops each rule took over the run.
func (a *Annotator) SplitTotals(rows []event.SummaryRow) []event.SummaryRow {
	var out []event.SummaryRow
	for _, r := range rows {
		parts := a.totalsOf(r)
		if len(parts) == 0 {
			out = append(out, r)
			continue
		}
		out = append(out, parts...)
	}
	return out
}

func (a *Annotator) totalsOf(r event.SummaryRow) []event.SummaryRow {
	if r.Key.Reason != reasonNetfilterDrop {
		return nil
	}
	var parts []event.SummaryRow
	var taken uint64
	for k, n := range a.split.totals {
		if k.row != r.Key || k.rule == (ruleKey{}) || n == 0 {
			continue
		}
		n = min(n, r.Total-taken)
		taken += n
		p := r
		p.Count, p.Total, p.Rate = n, n, scaleRate(r, n)
		p.Netfilter = a.split.names[k]
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return nil
	}
	if rest := r.Total - taken; rest > 0 {
		p := r
		p.Count, p.Total, p.Rate = rest, rest, scaleRate(r, rest)
		parts = append(parts, p)
	}
	slices.SortFunc(parts, func(x, y event.SummaryRow) int { return cmp.Compare(y.Count, x.Count) })
	return parts
}

// ruleDeltas reads the namespace's ruleset and returns the dropping
// rules and policies whose counters moved since the last read.
func (a *Annotator) ruleDeltas(ino uint32, read *int) ([]ruleDelta, bool) {
	if *read >= maxSplitNamespaces {
		return nil, false
	}
	st, err := a.namespace(ino, a.now())
	if err != nil || st == nil || len(st.reads) == 0 || !a.take(&a.readTokens) {
		if err == nil && st != nil && len(st.reads) == 0 && a.read(st) == nil {
			*read++ // a first read: the next interval has counters to compare
		}
		return nil, false
	}
	*read++
	if err := a.read(st); err != nil {
		a.stats.Failed++
		return nil, false
	}
	n := len(st.reads)
	w := newWindow(st.reads[n-2], st.reads[n-1])
	var deltas []ruleDelta
	for _, t := range st.reads[n-1].Tables {
		for _, c := range t.Chains {
			if c.Base && c.PolicyDrop && c.HasCounters {
				if d := w.chainPackets(c); d > 0 {
					deltas = append(deltas, ruleDelta{Outcome{Chain: c, Base: c}, d})
				}
			}
			for _, r := range c.Rules {
				if act := RuleVerdict(r).Action; (act == ActDrop || act == ActReject) && r.HasCounter {
					if d := w.rulePackets(r); d > 0 {
						deltas = append(deltas, ruleDelta{Outcome{Rule: r, Chain: c, Base: c}, d})
					}
				}
			}
		}
	}
	slices.SortFunc(deltas, func(x, y ruleDelta) int { return cmp.Compare(y.n, x.n) })
	return deltas, true
}

// splitRow gives each rule up to its counter's movement of the row's
// drops, busiest first; the rest stays unattributed.
func (a *Annotator) splitRow(r event.SummaryRow, deltas []ruleDelta) []event.SummaryRow {
	var out []event.SummaryRow
	left := r.Count
	for _, d := range deltas {
		if left == 0 {
			break
		}
		n := min(d.n, left)
		left -= n
		p := r
		p.Count, p.Rate = n, scaleRate(r, n)
		p.Netfilter = summaryNetfilter(d.out)
		p.Total = a.addTotal(r.Key, d.out, p.Netfilter, n)
		out = append(out, p)
	}
	if left > 0 || len(out) == 0 {
		p := r
		p.Count, p.Rate = left, scaleRate(r, left)
		out = append(out, p)
	}
	return out
}

func (a *Annotator) addTotal(row event.SummaryKey, o Outcome, nf *event.Netfilter, n uint64) uint64 {
	k := splitKey{row: row, pol: o.Rule == nil}
	if o.Rule != nil {
		k.rule = keyOfRule(o.Rule)
	} else {
		k.rule = keyOfChain(o.Chain)
	}
	if _, ok := a.split.totals[k]; !ok && len(a.split.totals) >= maxRuleTotals {
		return n
	}
	if a.split.names == nil {
		a.split.names = map[splitKey]*event.Netfilter{}
	}
	a.split.totals[k] += n
	a.split.names[k] = nf
	return a.split.totals[k]
}

// summaryNetfilter names a rule of a summary row: no packet to replay,
// its counter alone.
func summaryNetfilter(o Outcome) *event.Netfilter {
	pkt := &Packet{Src: netip.IPv4Unspecified()}
	if FamilyName(o.Chain.Table.Family) == "ip6" {
		pkt.Src = netip.IPv6Unspecified()
	}
	nf := fromVerdict(describe(o, pkt))
	nf.Certainty = event.CertaintyCounter
	return nf
}

func scaleRate(r event.SummaryRow, n uint64) float64 {
	if r.Count == 0 {
		return 0
	}
	return r.Rate * float64(n) / float64(r.Count)
}

// SplitStats returns the counts of SplitRows.
func (a *Annotator) SplitStats() SplitStats { return a.split.stats }
