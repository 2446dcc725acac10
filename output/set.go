package output

import (
	"context"
	"fmt"
	"io"

	"github.com/droptrace/droptrace/event"
)

// Set is the outputs of one run: the --output format on stdout and the
// --output-pcap file. The run loops open it before anything attaches.
type Set struct {
	Format string    // --output
	Mode   Mode      // what the run writes
	Stdout io.Writer // where the format writes
	Colour bool      // path text on a terminal
	Pcap   string    // --output-pcap: "" for none, "-" for stdout alone
	Notice func(string)

	pcap *Pcap
}

// Events opens the writers of events: the format on stdout (unless the
// pcap takes stdout) and the pcap file. Opening a FIFO waits for its
// reader until ctx ends.
func (s *Set) Events(ctx context.Context) (event.Writer, error) {
	var ws []event.Writer
	if s.Pcap != "-" {
		w, err := New(s.Format, s.Mode, s.Stdout, Options{Colour: s.Colour})
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	if s.Pcap != "" {
		p, err := OpenPcapContext(ctx, s.Pcap, s.Notice)
		if err != nil {
			return nil, fmt.Errorf("--output-pcap: %w", err)
		}
		s.pcap = p
		ws = append(ws, p)
	}
	return event.Multi(ws...), nil
}

// Summary returns the summary writer of the format on stdout.
func (s *Set) Summary() (event.SummaryWriter, error) {
	return NewSummary(s.Format, s.Stdout)
}

// Skipped returns how many drops had no packet bytes to write to the pcap.
func (s *Set) Skipped() uint64 {
	if s.pcap == nil {
		return 0
	}
	return s.pcap.Skipped()
}
