package session

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/droptrace/droptrace/event"
)

// Counter is a tracer in summary mode: the kernel counts drops by key.
type Counter interface {
	SummaryCounts() (event.Counts, error)
	Detach() error
}

// Summary prints the kernel's drop counts every Interval, and the totals
// when the run ends.
type Summary struct {
	Source   Counter
	Out      event.SummaryWriter
	Interval time.Duration
	Flush    func() error

	progress atomic.Uint64 // tables flushed, for the stop watchdog
}

// Run prints until ctx ends, then detaches, so the totals are final, and
// prints them. An output that takes no more tables once ctx has ended is
// abandoned, as Stream does (ErrAbandoned).
func (s *Summary) Run(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	return Stopping(ctx, done, &s.progress, nil)
}

func (s *Summary) run(ctx context.Context) error {
	start := time.Now()
	last, prev := start, event.Counts{}
	tick := time.NewTicker(s.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return s.totals(start)
		case now := <-tick.C:
			cur, err := s.Source.SummaryCounts()
			if err != nil {
				return err
			}
			if err := s.Out.WriteInterval(now, event.Interval(prev, cur, now.Sub(last))); err != nil {
				return err
			}
			if err := s.Flush(); err != nil {
				return err
			}
			s.progress.Add(1)
			prev, last = cur, now
		}
	}
}

func (s *Summary) totals(start time.Time) error {
	if err := s.Source.Detach(); err != nil {
		return err
	}
	s.progress.Add(1) // reading the counts is progress too: the watchdog waits for it
	now := time.Now()
	cur, err := s.Source.SummaryCounts()
	if err != nil {
		return err
	}
	s.progress.Add(1)
	if err := s.Out.WriteTotals(now, now.Sub(start), event.Totals(cur, now.Sub(start))); err != nil {
		return err
	}
	return s.Flush()
}
