package session

import (
	"fmt"
	"io"

	"github.com/droptrace/droptrace/nsfs"
	"github.com/droptrace/droptrace/sockdiag"
	"github.com/droptrace/droptrace/tcpinfo"
	"github.com/droptrace/droptrace/tracer"
)

// TCPStage adds to TCP events and TCP drops what sock_diag reads after
// the event (queues, delivery rate, gone), between the ring buffer and the
// writers (--tcp).
type TCPStage struct {
	*tcpinfo.Annotator
	diag *sockdiag.Client
}

// NewTCPStage returns a TCPStage with the default bounds.
func NewTCPStage() *TCPStage {
	diag := sockdiag.New(nsfs.NewIndex())
	return &TCPStage{Annotator: tcpinfo.New(tcpinfo.SockDiagLookup(diag), tcpinfo.DefaultConfig()), diag: diag}
}

// Release closes the sock_diag sockets once the stage has drained.
func (s *TCPStage) Release() { s.diag.Close() }

// Report prints the TCP counts and how the annotation went.
func (s *TCPStage) Report(w io.Writer, t *tracer.Tracer, events uint64) {
	seen, lost, missed, err := t.TCPStats()
	if err != nil {
		fmt.Fprintf(w, "droptrace: %d TCP events reported; %v\n", events, err)
		return
	}
	st := s.Stats()
	fmt.Fprintf(w, "droptrace: %d TCP events reported, %d matched in the kernel, %d events lost (%d ring buffer full, %d not run: the program was busy on that CPU)\n",
		events, seen, lost+missed, lost, missed)
	fmt.Fprintf(w, "droptrace: tcp_info: %d events with the socket's state at the event; sock_diag after the event: %d events annotated (%d gone), %d look-ups, %d coalesced; not annotated: %d queue full, %d timed out, %d failed\n",
		st.AtEvent, st.Annotated, st.Gone, st.Lookups, st.Coalesced, st.QueueFull, st.TimedOut, st.Failed)
}
