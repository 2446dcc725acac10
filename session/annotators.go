package session

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/explain"
	"github.com/droptrace/droptrace/netfilter"
	"github.com/droptrace/droptrace/nsfs"
	"github.com/droptrace/droptrace/pods"
)

// Annotations say what a run of the drop mode adds to its events and
// what it leaves out.
type Annotations struct {
	Netfilter   bool   // name the rule behind each NETFILTER_DROP
	Explain     bool   // --explain: cause, live evidence and fix
	ShowRoutine bool   // --show-routine: also report routine frees
	Pods        bool   // name namespaces by pod, container or ip netns name
	CRIEndpoint string // --cri-endpoint; "" finds the runtime
}

// annotators are the open annotators of a run; a nil field is not used.
type annotators struct {
	nf      *netfilter.Annotator
	explain *explain.Explainer
	pods    *pods.Resolver
	routine bool // hide routine frees
	stage   *Annotate
	// splitRows: summary mode, where nf splits NETFILTER_DROP rows per rule.
	splitRows bool
	// lastRoutine is skip's last answer, for the reason and location it
	// was for: the events of a storm share both, and the decoder hands on
	// the same strings, so comparing them costs less than the look-ups.
	lastRoutine routineAnswer
}

// routineAnswer is whether drops at a reason and location are routine.
type routineAnswer struct {
	reason, location string
	routine, ok      bool
}

// open starts what a asks for. In summary mode no event is annotated:
// rows are named and explained as they are printed.
func (a Annotations) open(ctx context.Context, stderr io.Writer, summary bool) (*annotators, error) {
	an := &annotators{routine: !a.ShowRoutine}
	if a.Pods {
		r, err := pods.New(ctx, pods.Options{CRIEndpoint: a.CRIEndpoint})
		if err != nil {
			return nil, err
		}
		an.pods = r
		if ep := r.CRIEndpoint(); ep != "" {
			fmt.Fprintf(stderr, "droptrace: naming pods through the CRI runtime at %s\n", ep)
		}
	}
	idx := nsfs.NewIndex()
	if summary {
		// Rows are split per rule by counters, as they are printed.
		if a.Netfilter {
			an.nf, an.splitRows = netfilter.New(idx, netfilter.DefaultConfig()), true
		}
		return an, nil
	}
	var stages []Annotator
	if a.Netfilter {
		an.nf = netfilter.New(idx, netfilter.DefaultConfig())
		stages = append(stages, an.nf)
	}
	if a.Explain {
		cfg := explain.DefaultConfig()
		cfg.Netfilter = explain.NetfilterEvidence
		an.explain = explain.New(idx, cfg)
		stages = append(stages, an.explain)
	}
	if len(stages) > 0 {
		an.stage = NewAnnotate(DefaultBacklog, stages...)
	}
	return an, nil
}

// prime reads the --filter-netns namespace's ruleset before anything
// attaches, whatever the baseline of New read: its first drops then have
// counters to compare with. A failure is left to the drops to count.
func (an *annotators) prime(netns uint32) {
	if an.nf != nil && netns != 0 {
		an.nf.Prime(netns)
	}
}

// skip says which drops are not reported: routine frees unless asked for.
// The kernel tells them by location, which the BPF program cannot
// compare; --exclude-reason is left to the kernel (filter.Spec.Exclude),
// where an excluded drop costs no record and no summary count.
// It is called by the reader alone (Stream.Skip), so its cache needs no
// lock.
func (an *annotators) skip(ev *event.Event) bool {
	if ev.Kind != event.KindDrop || !an.routine {
		return false
	}
	last := &an.lastRoutine
	if !last.ok || last.reason != ev.Reason || last.location != ev.Location {
		*last = routineAnswer{reason: ev.Reason, location: ev.Location, routine: explain.Routine(ev), ok: true}
	}
	return last.routine
}

// writer names the events' namespaces before w (and the metrics in it)
// sees them.
func (an *annotators) writer(w event.Writer) event.Writer {
	if an.pods == nil {
		return w
	}
	return an.pods.Writer(w)
}

// summary filters, explains and names the rows before sw prints them.
func (an *annotators) summary(sw event.SummaryWriter, explained bool) event.SummaryWriter {
	if an.pods != nil {
		sw = an.pods.SummaryWriter(sw)
	}
	return rowFilter{an: an, explain: explained, next: sw}
}

// report says at exit what the annotators did and skipped.
func (an *annotators) report(w io.Writer, skipped uint64) {
	if skipped > 0 {
		fmt.Fprintf(w, "droptrace: %d routine frees not reported (--show-routine shows them)\n", skipped)
	}
	if an.stage != nil && an.stage.Skipped() > 0 {
		fmt.Fprintf(w, "droptrace: %d events written without annotation: too many were waiting\n", an.stage.Skipped())
	}
	if an.nf != nil && an.splitRows {
		s := an.nf.SplitStats()
		fmt.Fprintf(w, "droptrace: netfilter: %d summary rows split per rule by counters, %d left whole (several rows share a namespace's counters), %d left whole (budget or read failed)\n",
			s.Split, s.Ambiguous, s.Skipped)
	} else if an.nf != nil {
		s := an.nf.Stats()
		fmt.Fprintf(w, "droptrace: netfilter: %d drops named by the kernel (exact), %d by counter, %d replayed, %d with candidates, %d unattributed; %d ruleset reads (%d skipped), %d replays skipped, %d failed\n",
			s.Exact, s.Counter, s.Replayed, s.Candidates, s.Unattributed, s.Reads, s.ReadsSkipped, s.ReplaysSkipped, s.Failed)
	}
	if an.explain != nil {
		s := an.explain.Stats()
		fmt.Fprintf(w, "droptrace: explain: %d drops explained, %d look-ups (%d cached), %d skipped (budget), %d failed\n",
			s.Explained, s.Lookups, s.Cached, s.Skipped, s.Failed)
	}
}

func (an *annotators) close() {
	if an.nf != nil {
		an.nf.Close()
	}
	if an.explain != nil {
		an.explain.Close()
	}
	if an.pods != nil {
		an.pods.Close()
	}
}

// rowFilter leaves routine rows out of a summary and, with --explain,
// explains the others in words.
type rowFilter struct {
	an      *annotators
	explain bool
	next    event.SummaryWriter
}

func (f rowFilter) rows(rows []event.SummaryRow) []event.SummaryRow {
	out := rows[:0:0]
	for _, r := range rows {
		k := r.Key
		if f.an.routine && explain.RoutineAt(k.Reason, k.Location) {
			continue
		}
		if f.explain {
			r.Explain = explain.Static(k.Reason, k.Location)
		}
		out = append(out, r)
	}
	return out
}

func (f rowFilter) WriteInterval(at time.Time, rows []event.SummaryRow) error {
	rows = f.rows(rows)
	if f.an.splitRows {
		rows = f.an.nf.SplitRows(rows)
	}
	return f.next.WriteInterval(at, rows)
}

func (f rowFilter) WriteTotals(at time.Time, elapsed time.Duration, rows []event.SummaryRow) error {
	rows = f.rows(rows)
	if f.an.splitRows {
		rows = f.an.nf.SplitTotals(rows)
	}
	return f.next.WriteTotals(at, elapsed, rows)
}
