package session

import (
	"context"

	"github.com/droptrace/droptrace/event"
)

// Outputs are the writers of a run, built by package output and handed in
// by cmd, so the run loops move events without knowing their formats.
type Outputs interface {
	// Events opens the event writers; it may wait (a FIFO's reader)
	// until ctx ends.
	Events(ctx context.Context) (event.Writer, error)
	// Summary returns the writer of --summary tables.
	Summary() (event.SummaryWriter, error)
	// Skipped returns how many drops had no packet bytes for the pcap.
	Skipped() uint64
}
