package session

import (
	"fmt"
	"io"
)

// ReportDrops says at exit how many drops were written, matched in the
// kernel and lost.
func ReportDrops(w io.Writer, src Source, n Written) {
	report(w, src, n.Drops, "drops")
}

// reportUnwritten says how many matched drops a run abandoned at its stop
// left unwritten: neither reported, nor lost, nor skipped on purpose.
func reportUnwritten(w io.Writer, src Source, accounted uint64) {
	seen, lost, err := src.Stats()
	if err != nil || seen < lost+accounted {
		return
	}
	fmt.Fprintf(w, "droptrace: %d matched drops not reported: stopped before writing them\n", seen-lost-accounted)
}

// ReportPath says at exit how many path events were written, matched and
// lost.
func ReportPath(w io.Writer, src Source, n Written) {
	report(w, src, n.All, "path events")
}

func report(w io.Writer, src Source, reported uint64, what string) {
	seen, lost, err := src.Stats()
	if err != nil {
		fmt.Fprintf(w, "droptrace: %d %s reported; %v\n", reported, what, err)
		return
	}
	fmt.Fprintf(w, "droptrace: %d %s reported, %d matched in the kernel, %d events lost%s\n", reported, what, seen, lost, notRunText(src))
}

// notRunText says how many probe hits the kernel did not run droptrace's
// programs for, "" when none.
func notRunText(src Source) string {
	n, err := src.NotRun()
	switch {
	case err != nil:
		return fmt.Sprintf("; probe hits not run: %v", err)
	case n == 0:
		return ""
	}
	return fmt.Sprintf("; %d probe hits not run: the program was busy on that CPU (events among them are lost)", n)
}
