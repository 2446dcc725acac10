package session

import (
	"context"
	"fmt"
	"io"

	"github.com/droptrace/droptrace/metrics"
	"github.com/droptrace/droptrace/tracer"
)

// Metrics says where to serve Prometheus metrics (--metrics-addr).
type Metrics struct {
	Addr    string // host:port; "" for none
	Version string // droptrace's, for the build info metric
}

// start serves the metrics, reading the source's counters at scrape time;
// nil when no address was given. Its Writer counts the events written.
// summary is the drop tracer in summary mode, else nil; splitRules says
// its NETFILTER_DROP rows are split per rule before its SummaryWriter.
func (m Metrics) start(ctx context.Context, stderr io.Writer, src Source, summary *tracer.Tracer, splitRules bool) (*metrics.Metrics, error) {
	if m.Addr == "" {
		return nil, nil
	}
	opts := metrics.Options{
		Version: m.Version,
		Lost:    func() uint64 { _, lost, _ := src.Stats(); return lost },
		NotRun:  func() uint64 { n, _ := src.NotRun(); return n },
		Probes:  src.Probes,
	}
	if summary != nil {
		opts.Summary = summary.SummaryCounts
		opts.Overflow = func() uint64 { n, _ := summary.SummaryOverflow(); return n }
		opts.SplitRules = splitRules
	}
	reg := metrics.New(opts)
	bound, _, err := metrics.Listen(ctx, m.Addr, reg)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	fmt.Fprintf(stderr, "droptrace: serving Prometheus metrics on http://%s/metrics\n", bound)
	return reg, nil
}
