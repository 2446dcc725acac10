package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/output"
	"github.com/droptrace/droptrace/tracer"
)

// summaryLoop prints the drops counted in the kernel every interval, and
// the totals when ctx ends.
func summaryLoop(ctx context.Context, t *tracer.Tracer, dec *tracer.Decoder, sw output.SummaryWriter, interval time.Duration) error {
	start := time.Now()
	last, prev := start, event.Counts{}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return summaryTotals(t, dec, sw, start)
		case now := <-tick.C:
			cur, err := t.SummaryCounts(dec)
			if err != nil {
				return err
			}
			if err := sw.WriteInterval(now, event.Interval(prev, cur, now.Sub(last))); err != nil {
				return err
			}
			if err := stdout.Flush(); err != nil {
				return err
			}
			prev, last = cur, now
		}
	}
}

// summaryTotals detaches, so the totals are final, and prints them.
func summaryTotals(t *tracer.Tracer, dec *tracer.Decoder, sw output.SummaryWriter, start time.Time) error {
	if err := t.Detach(); err != nil {
		return err
	}
	now := time.Now()
	cur, err := t.SummaryCounts(dec)
	if err != nil {
		return err
	}
	if err := sw.WriteTotals(now, now.Sub(start), event.Totals(cur, now.Sub(start))); err != nil {
		return err
	}
	return stdout.Flush()
}

func newSummaryWriter(format string) output.SummaryWriter {
	if format == "json" {
		return output.NewSummaryJSON(stdout)
	}
	return output.NewSummaryText(stdout)
}

// reportOverflow says how many drops the full summary map could not count.
func reportOverflow(t *tracer.Tracer, keys int) {
	n, err := t.SummaryOverflow()
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "droptrace: %v\n", err)
	case n > 0:
		fmt.Fprintf(os.Stderr, "droptrace: %d drops were not counted: the summary map was full (%d keys; see --summary-keys)\n", n, keys)
	default:
		fmt.Fprintf(os.Stderr, "droptrace: summary map overflow: 0 drops\n")
	}
}
