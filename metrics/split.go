package metrics

import (
	"time"

	"github.com/droptrace/droptrace/event"
)

// reasonNetfilterDrop is the drop reason whose summary rows the netfilter
// annotator splits per rule.
const reasonNetfilterDrop = "NETFILTER_DROP"

// SummaryWriter returns a SummaryWriter that passes the rows on to next
// and, with Options.SplitRules, keeps the NETFILTER_DROP rows of each
// interval, as the netfilter annotator split them per rule: those keys
// are then served from these rows (through the last interval, each rule
// its own `rule` label, what no rule took under ""), not from the
// kernel's count at scrape time, so every series only grows.
func (m *Metrics) SummaryWriter(next event.SummaryWriter) event.SummaryWriter {
	if !m.drops.splitRules {
		return next
	}
	return splitWriter{c: m.drops, next: next}
}

type splitWriter struct {
	c    *dropsCollector
	next event.SummaryWriter
}

func (w splitWriter) WriteInterval(at time.Time, rows []event.SummaryRow) error {
	w.c.tallyRows(rows)
	return w.next.WriteInterval(at, rows)
}

func (w splitWriter) WriteTotals(at time.Time, elapsed time.Duration, rows []event.SummaryRow) error {
	return w.next.WriteTotals(at, elapsed, rows)
}

// tallyRows adds the NETFILTER_DROP rows of an interval to the split
// counts, by label set (the rule's among them).
func (c *dropsCollector) tallyRows(rows []event.SummaryRow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rows {
		if r.Key.Reason != reasonNetfilterDrop || r.Count == 0 {
			continue
		}
		l := keyLabels(r.Key, c.podOf(r.Key.Netns))
		l.rule = ruleLabel(r.Netfilter)
		c.split[l] += r.Count
	}
}
