package event

import (
	"cmp"
	"slices"
	"time"
)

// SummaryKey is what --summary counts drops by. Its fields mean what the
// same fields of Event mean.
type SummaryKey struct {
	Reason       string
	ReasonCode   uint32
	Location     string
	LocationAddr uint64
	Netns        uint32
	Ifindex      uint32
	Ifname       string
	Proto        string
}

// Counts is a snapshot of the kernel's summary: drops so far per key.
type Counts map[SummaryKey]uint64

// SummaryRow is one line of a summary: Count drops of Key in the period,
// Total since the start, and Count per second of the period.
type SummaryRow struct {
	Key   SummaryKey
	Count uint64
	Total uint64
	Rate  float64
	Pod   *Pod // names of Key.Netns, filled by an annotator; nil when not annotated
	// Explain is the key's cause and fix in words (--explain); nil when
	// not asked for.
	Explain *Explain
	// Netfilter is the rule that made the row's NETFILTER_DROPs, when the
	// row is one rule's share (by its counter); nil otherwise.
	Netfilter *Netfilter
}

// Interval returns the keys that had drops between the snapshots prev and
// cur, elapsed apart, busiest first.
func Interval(prev, cur Counts, elapsed time.Duration) []SummaryRow {
	var rows []SummaryRow
	for k, total := range cur {
		// A key can only grow; a smaller total means the key was recreated.
		n := total - min(prev[k], total)
		if n > 0 {
			rows = append(rows, SummaryRow{Key: k, Count: n, Total: total, Rate: perSecond(n, elapsed)})
		}
	}
	sortRows(rows)
	return rows
}

// Totals returns every key of cur with its drops over the whole run of
// length elapsed, busiest first.
func Totals(cur Counts, elapsed time.Duration) []SummaryRow {
	rows := make([]SummaryRow, 0, len(cur))
	for k, total := range cur {
		rows = append(rows, SummaryRow{Key: k, Count: total, Total: total, Rate: perSecond(total, elapsed)})
	}
	sortRows(rows)
	return rows
}

func perSecond(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// sortRows orders by count, then by key, so equal counts print stably.
func sortRows(rows []SummaryRow) {
	slices.SortFunc(rows, func(a, b SummaryRow) int {
		return cmp.Or(
			cmp.Compare(b.Count, a.Count),
			cmp.Compare(b.Total, a.Total),
			cmp.Compare(a.Key.Reason, b.Key.Reason),
			cmp.Compare(a.Key.ReasonCode, b.Key.ReasonCode),
			cmp.Compare(a.Key.Location, b.Key.Location),
			cmp.Compare(a.Key.LocationAddr, b.Key.LocationAddr),
			cmp.Compare(a.Key.Netns, b.Key.Netns),
			cmp.Compare(a.Key.Ifindex, b.Key.Ifindex),
			cmp.Compare(a.Key.Ifname, b.Key.Ifname),
			cmp.Compare(a.Key.Proto, b.Key.Proto),
		)
	})
}

// SummaryWriter prints summaries: one per interval, and the totals at exit.
type SummaryWriter interface {
	WriteInterval(at time.Time, rows []SummaryRow) error
	WriteTotals(at time.Time, elapsed time.Duration, rows []SummaryRow) error
}
