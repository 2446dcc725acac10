package main

import (
	"context"
	"fmt"
	"os"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/metrics"
	"github.com/droptrace/droptrace/tracer"
)

// counters is what the metrics read from a tracer of any mode.
type counters interface {
	Stats() (seen, lost uint64, err error)
	Probes() int
}

// startMetrics serves --metrics-addr, reading t's counters at scrape
// time; nil when no address was given.
func startMetrics(ctx context.Context, cfg *config, t *tracer.Tracer, dec *tracer.Decoder) (*metrics.Metrics, error) {
	if cfg.metricsAddr == "" {
		return nil, nil
	}
	opts := metricsOptions(t)
	if cfg.summary {
		opts.Summary = func() (event.Counts, error) { return t.SummaryCounts(dec) }
		opts.Overflow = func() uint64 { n, _ := t.SummaryOverflow(); return n }
	}
	return serveMetrics(ctx, cfg.metricsAddr, opts)
}

func metricsOptions(c counters) metrics.Options {
	return metrics.Options{
		Version: version,
		Lost:    func() uint64 { _, lost, _ := c.Stats(); return lost },
		Probes:  c.Probes,
	}
}

func serveMetrics(ctx context.Context, addr string, opts metrics.Options) (*metrics.Metrics, error) {
	m := metrics.New(opts)
	bound, _, err := metrics.Listen(ctx, addr, m)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	fmt.Fprintf(os.Stderr, "droptrace: serving Prometheus metrics on http://%s/metrics\n", bound)
	return m, nil
}
