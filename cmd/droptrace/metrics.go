package main

import (
	"context"
	"fmt"
	"os"

	"github.com/droptrace/droptrace/metrics"
	"github.com/droptrace/droptrace/output"
	"github.com/droptrace/droptrace/tracer"
)

// startMetrics serves --metrics-addr, reading t's counters at scrape
// time; nil when no address was given.
func startMetrics(ctx context.Context, cfg *config, t *tracer.Tracer, dec *tracer.Decoder) (*metrics.Metrics, error) {
	if cfg.metricsAddr == "" {
		return nil, nil
	}
	opts := metrics.Options{
		Version: version,
		Lost:    func() uint64 { _, lost, _ := t.Stats(); return lost },
		Probes:  t.Probes,
	}
	if cfg.summary {
		opts.Summary = func() (output.Counts, error) { return t.SummaryCounts(dec) }
		opts.Overflow = func() uint64 { n, _ := t.SummaryOverflow(); return n }
	}
	m := metrics.New(opts)
	addr, _, err := metrics.Listen(ctx, cfg.metricsAddr, m)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	fmt.Fprintf(os.Stderr, "droptrace: serving Prometheus metrics on http://%s/metrics\n", addr)
	return m, nil
}
