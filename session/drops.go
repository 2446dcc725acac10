package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/metrics"
	"github.com/droptrace/droptrace/tracer"
)

// Drops is the default mode: each dropped packet (and --tcp event)
// reported, or, with Tracer.Summary, counted in the kernel and printed as
// tables.
type Drops struct {
	Tracer   tracer.Config
	Outputs  Outputs
	Stdout   *Buffer // what Outputs write to; flushed whenever the reader has caught up
	Stderr   io.Writer
	Pcap     string // --output-pcap, for messages
	Count    int
	Duration time.Duration
	Interval time.Duration // --summary
	Metrics  Metrics
	// Annotate says what events gain (rule, explanation, pod) and which
	// drops are left out (routine frees; --exclude-reason is a filter).
	Annotate Annotations
	// FilterPod is --filter-pod NAMESPACE/NAME: drops in that pod's
	// namespace only, followed when the pod is created again.
	FilterPod string

	an *annotators
	pf *podFilter       // nil without FilterPod
	mx *metrics.Metrics // nil without --metrics-addr
}

// Run opens the outputs, attaches, and reports until ctx ends.
func (d *Drops) Run(ctx context.Context) error {
	// The annotators first: an unknown --filter-pod creates nothing.
	if err := d.openAnnotators(ctx); err != nil {
		return err
	}
	// Outputs open before anything attaches: a bad path attaches nothing.
	// Waiting for a FIFO's reader ends with --duration too.
	w, err := d.openOutputs(ctx)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		d.closeAnnotators()
		fmt.Fprintf(d.Stderr, "droptrace: stopped before --output-pcap %s was open; nothing attached\n", d.Pcap)
		return nil
	}
	if err != nil {
		d.closeAnnotators()
		return err
	}
	d.an.prime(d.Tracer.Filter.Netns)
	defer ReleaseTracefs(d.Stderr) // after the tracer is closed
	// Replies are linked to drops only for the rules they are named by.
	d.Tracer.Replies = d.an.nf != nil && !d.Tracer.Summary
	key, why := d.exactNetfilter()
	t, err := tracer.Open(d.Tracer)
	if err != nil {
		key.Close()
		w.Close()
		d.closeAnnotators()
		return err
	}
	key = holdKey(d.Stderr, key, why, t)
	defer releaseKey(d.Stderr, key) // after the tracer is closed
	defer d.closeTracer(t)
	if w, err = d.openMetrics(ctx, w, t); err != nil {
		w.Close()
		d.closeAnnotators()
		return err
	}
	w = d.an.writer(w)
	// In the background: the rings fill while the reader waits, and a
	// storm fills them within a few hundred milliseconds.
	go ReleaseLoadMemory()
	AnnounceDrops(d.Stderr, t, d.Tracer.Filter)
	ctx, cancel := WithDuration(ctx, d.Duration)
	defer cancel()
	d.pf.start(ctx, t, d.Stderr)
	defer d.pf.close() // before the tracer closes
	if d.Tracer.Summary {
		return d.summary(ctx, t)
	}
	return d.stream(ctx, t, w)
}

// openAnnotators starts the annotators and resolves --filter-pod to the
// namespace the programs filter on.
func (d *Drops) openAnnotators(ctx context.Context) error {
	var err error
	if d.an, err = d.Annotate.open(ctx, d.Stderr, d.Tracer.Summary); err != nil {
		return err
	}
	if d.FilterPod == "" {
		return nil
	}
	if d.pf, err = openPodFilter(ctx, d.an.pods, d.FilterPod); err != nil {
		d.an.close()
		return err
	}
	d.Tracer.Filter.Netns = d.pf.ino
	fmt.Fprintf(d.Stderr, "droptrace: --filter-pod %s: netns %d\n", d.FilterPod, d.pf.ino)
	return nil
}

// closeAnnotators closes what openAnnotators opened, on an error before
// the run.
func (d *Drops) closeAnnotators() {
	d.pf.close()
	d.an.close()
}

// openMetrics serves --metrics-addr and adds its counter to the outputs.
func (d *Drops) openMetrics(ctx context.Context, w event.Writer, t *tracer.Tracer) (event.Writer, error) {
	var summary *tracer.Tracer
	if d.Tracer.Summary {
		summary = t
	}
	mx, err := d.Metrics.start(ctx, d.Stderr, t, summary, d.an.splitRows)
	if err != nil || mx == nil {
		return w, err
	}
	d.mx = mx
	return event.Multi(w, mx.Writer()), nil
}

func (d *Drops) closeTracer(t *tracer.Tracer) {
	if err := t.Close(); err != nil {
		fmt.Fprintf(d.Stderr, "droptrace: detaching: %v\n", err)
	}
}

func (d *Drops) summary(ctx context.Context, t *tracer.Tracer) error {
	defer ReportOverflow(d.Stderr, t, d.Tracer.SummaryKeys)
	sw, err := d.Outputs.Summary()
	if err != nil {
		return err
	}
	defer d.an.close()
	if d.mx != nil { // the rows as split per rule, before the pods' filter
		sw = d.mx.SummaryWriter(sw)
	}
	s := Summary{Source: t, Out: d.an.summary(d.pf.summary(sw), d.Annotate.Explain), Interval: d.Interval, Flush: d.Stdout.Flush}
	err = s.Run(ctx)
	if !errors.Is(err, ErrAbandoned) { // abandoned, the rows may still be being split
		d.an.report(d.Stderr, 0)
	}
	return err
}

// stream writes drop (and --tcp) events until the run ends, then
// flushes the outputs and reports the counts.
func (d *Drops) stream(ctx context.Context, t *tracer.Tracer, w event.Writer) error {
	s := &Stream{Source: t, Out: w, Count: d.Count, Buf: d.Stdout, Skip: d.an.skip}
	var stages []Stage
	if d.an.stage != nil {
		stages = append(stages, d.an.stage)
	}
	var tcp *TCPStage
	if d.Tracer.TCP {
		tcp = NewTCPStage()
		stages = append(stages, tcp)
	}
	if len(stages) > 0 {
		s.Stage = Chain(stages...)
	}
	n, runErr := s.Run(ctx)
	if !errors.Is(runErr, ErrAbandoned) {
		// Abandoned, a writer or a look-up may still be under way.
		runErr = errors.Join(runErr, w.Close(), d.Stdout.Flush())
		if tcp != nil {
			tcp.Release()
		}
		defer d.an.close()
	}
	ReportDrops(d.Stderr, t, n)
	if errors.Is(runErr, ErrAbandoned) || errors.Is(runErr, ErrCut) {
		reportUnwritten(d.Stderr, t, n.Drops+s.Skipped())
	}
	d.an.report(d.Stderr, s.Skipped())
	if n := d.Outputs.Skipped(); n > 0 {
		fmt.Fprintf(d.Stderr, "droptrace: %d drops had no packet bytes to write to the pcap\n", n)
	}
	if tcp != nil {
		tcp.Report(d.Stderr, t, n.TCP)
	}
	return runErr
}

// openOutputs opens the event writers; summary mode writes its own
// tables. Waiting for a FIFO's reader ends with --duration too.
func (d *Drops) openOutputs(ctx context.Context) (event.Writer, error) {
	if d.Tracer.Summary {
		return event.Multi(), nil
	}
	ctx, cancel := WithDuration(ctx, d.Duration)
	defer cancel()
	return d.Outputs.Events(ctx)
}
