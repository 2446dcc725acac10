package pods

import (
	"time"

	"github.com/droptrace/droptrace/event"
)

// Writer returns an event.Writer that names each event's namespace, then
// hands it to next (the outputs and metrics). Naming is a map look-up,
// so it may sit on the write path of any mode.
func (r *Resolver) Writer(next event.Writer) event.Writer { return namingWriter{r, next} }

type namingWriter struct {
	r    *Resolver
	next event.Writer
}

func (w namingWriter) Write(ev *event.Event) error {
	w.r.Annotate(ev)
	return w.next.Write(ev)
}

func (w namingWriter) Close() error { return w.next.Close() }

// SummaryWriter returns an event.SummaryWriter that names each row's
// namespace, then hands the rows to next.
func (r *Resolver) SummaryWriter(next event.SummaryWriter) event.SummaryWriter {
	return namingSummary{r, next}
}

type namingSummary struct {
	r    *Resolver
	next event.SummaryWriter
}

func (w namingSummary) WriteInterval(at time.Time, rows []event.SummaryRow) error {
	w.r.AnnotateRows(rows)
	return w.next.WriteInterval(at, rows)
}

func (w namingSummary) WriteTotals(at time.Time, elapsed time.Duration, rows []event.SummaryRow) error {
	w.r.AnnotateRows(rows)
	return w.next.WriteTotals(at, elapsed, rows)
}
