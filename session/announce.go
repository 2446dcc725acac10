package session

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/tracer"
)

// AnnounceDrops says how the drop (and TCP) programs are attached and
// that droptrace is ready: its last line ends in "Ctrl-C to stop".
func AnnounceDrops(w io.Writer, t *tracer.Tracer, spec filter.Spec) {
	announceTracefs(w)
	if fb := t.Fallback(); fb != "" {
		fmt.Fprintf(w, "droptrace: not using tp_btf: %s\n", fb)
	}
	if t.TCPMode() != "" {
		if fb := t.TCPFallback(); fb != "" {
			fmt.Fprintf(w, "droptrace: TCP events not using tp_btf: %s\n", fb)
		}
		hz, source := t.HZ()
		fmt.Fprintf(w, "droptrace: tracing TCP retransmits and resets via %s; socket state read at the event (HZ %d, %s)\n", t.TCPMode(), hz, source)
	}
	fmt.Fprintf(w, "droptrace: tracing drops via %s, filters: %s; Ctrl-C to stop\n", t.Mode(), spec)
}

// AnnouncePath says which backend path tracing uses, why, and what it
// attached.
func AnnouncePath(w io.Writer, p *tracer.PathTracer, spec filter.Spec) {
	why := ""
	if len(p.Why()) > 0 {
		why = " (" + strings.Join(p.Why(), "; ") + ")"
	}
	fmt.Fprintf(w, "droptrace: backend %s%s\n", p.Backend(), why)
	fmt.Fprintf(w, "droptrace: attached %d probes (%d functions, %d tracepoints, %d refused by the kernel) in %v\n",
		p.Probes(), len(p.Plan.Funcs), len(p.Plan.Tracepoints), len(p.Plan.Skipped), p.AttachTime.Round(time.Millisecond))
	fmt.Fprintf(w, "droptrace: tracing packet paths, filters: %s; Ctrl-C to stop\n", spec)
}

// ClosePath detaches path tracing and says how long it took.
func ClosePath(w io.Writer, p *tracer.PathTracer) {
	p.Close()
	fmt.Fprintf(w, "droptrace: detached %d probes in %v\n", p.Probes(), p.DetachTime.Round(time.Millisecond))
}

// ReportOverflow says how many drops the full summary map could not count.
func ReportOverflow(w io.Writer, t *tracer.Tracer, keys int) {
	n, err := t.SummaryOverflow()
	switch {
	case err != nil:
		fmt.Fprintf(w, "droptrace: %v\n", err)
	case n > 0:
		fmt.Fprintf(w, "droptrace: %d drops were not counted: the summary map was full (%d keys; see --summary-keys)\n", n, keys)
	default:
		fmt.Fprintf(w, "droptrace: summary map overflow: 0 drops\n")
	}
}
