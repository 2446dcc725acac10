package main

import (
	"context"
	"fmt"
	"os"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/metrics"
	"github.com/droptrace/droptrace/session"
	"github.com/droptrace/droptrace/tracer"
)

// startMetrics serves --metrics-addr, reading the source's counters at
// scrape time, and returns the writer that counts the events written; nil
// when no address was given. t is the drop tracer, nil in path tracing.
func startMetrics(ctx context.Context, cfg *config, src session.Source, t *tracer.Tracer) (event.Writer, error) {
	if cfg.metricsAddr == "" {
		return nil, nil
	}
	opts := metrics.Options{
		Version: version,
		Lost:    func() uint64 { _, lost, _ := src.Stats(); return lost },
		Probes:  src.Probes,
	}
	if cfg.summary {
		opts.Summary = t.SummaryCounts
		opts.Overflow = func() uint64 { n, _ := t.SummaryOverflow(); return n }
	}
	m := metrics.New(opts)
	bound, _, err := metrics.Listen(ctx, cfg.metricsAddr, m)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	fmt.Fprintf(os.Stderr, "droptrace: serving Prometheus metrics on http://%s/metrics\n", bound)
	return m.Writer(), nil
}
