package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/kernel"
	"github.com/droptrace/droptrace/tcpinfo"
	"github.com/droptrace/droptrace/tracer"
)

// validateTCP rejects filters that would exclude every TCP event.
func validateTCP(cfg *config) error {
	if !cfg.tcp {
		return nil
	}
	if p := strings.ToLower(cfg.filters.Proto); p != "" && p != "tcp" {
		return usagef("--filter-proto: %q excludes the TCP events --tcp asks for; use --filter-proto tcp or none", cfg.filters.Proto)
	}
	if cfg.summary {
		return usagef("--tcp: not supported with --summary, which counts drops only")
	}
	if cfg.filters.Ifname != "" {
		return usagef("--filter-ifname: TCP events belong to sockets, not interfaces, so none would match; leave it out with --tcp")
	}
	return nil
}

// announceTCP says how the TCP programs are attached.
func announceTCP(t *tracer.Tracer) {
	if t.TCPMode() == "" {
		return
	}
	if fb := t.TCPFallback(); fb != "" {
		fmt.Fprintf(os.Stderr, "droptrace: TCP events not using tp_btf: %s\n", fb)
	}
	fmt.Fprintf(os.Stderr, "droptrace: tracing TCP retransmits and resets via %s\n", t.TCPMode())
}

// tcpReport is what a --tcp run wrote and how the annotation went.
type tcpReport struct {
	events uint64 // TCP events written
	stats  tcpinfo.Stats
}

// streamTCP is stream with the tcp_info annotation stage between the ring
// buffer and the writers: the reader hands events to the Annotator and
// never waits for a look-up; a second goroutine writes them, in order.
// It returns the drops and the TCP events written.
func streamTCP(ctx context.Context, t *tracer.Tracer, dec *tracer.Decoder, w event.Writer, count int) (uint64, *tcpReport, error) {
	diag := kernel.NewSockDiag(kernel.NewNetnsIndex())
	defer diag.Close()
	a := tcpinfo.New(tcpinfo.SockDiagLookup(diag), tcpinfo.DefaultConfig())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var drops uint64
	rep := &tcpReport{}
	drained := make(chan error, 1)
	go func() {
		drained <- a.Drain(func(ev *event.Event) error {
			if err := w.Write(ev); err != nil {
				return err
			}
			if ev.Kind == event.KindDrop {
				drops++
			} else {
				rep.events++
			}
			if count > 0 && drops+rep.events >= uint64(count) {
				cancel() // Run may be waiting for an event that never comes
				return tracer.ErrStop
			}
			return nil
		}, stdout.Flush)
	}()
	runErr := t.Run(ctx, dec, a.Add, nil)
	a.Close()
	drainErr := <-drained
	rep.stats = a.Stats()
	if drainErr != nil && drainErr != tracer.ErrStop {
		return drops, rep, drainErr
	}
	return drops, rep, runErr
}

// summarizeTCP prints the TCP counts; nothing without --tcp.
func summarizeTCP(t *tracer.Tracer, rep *tcpReport) {
	if rep == nil {
		return
	}
	seen, lost, missed, err := t.TCPStats()
	if err != nil {
		fmt.Fprintf(os.Stderr, "droptrace: %d TCP events reported; %v\n", rep.events, err)
		return
	}
	s := rep.stats
	fmt.Fprintf(os.Stderr, "droptrace: %d TCP events reported, %d matched in the kernel, %d events lost (%d ring buffer full, %d not run: the program was busy on that CPU)\n",
		rep.events, seen, lost+missed, lost, missed)
	fmt.Fprintf(os.Stderr, "droptrace: tcp_info: %d events annotated (%d gone), %d look-ups, %d coalesced; without tcp_info: %d queue full, %d timed out, %d failed\n",
		s.Annotated, s.Gone, s.Lookups, s.Coalesced, s.QueueFull, s.TimedOut, s.Failed)
}
