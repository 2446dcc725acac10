package guest

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/filter"
)

// TestPathNotRunCounted follows a UDP flood over loopback with every
// function probed by kprobe-multi. A kprobe program that an interrupt's
// probe finds running on its CPU is not run again, and the kernel counts
// that as the program's recursion_misses: steps lost that the rings
// never saw. droptrace must count them as the kernel does.
func TestPathNotRunCounted(t *testing.T) {
	requireMulti(t)
	before := bpfPrograms()
	// The flood's steps are followed, so that the programs run long.
	p := openMulti(t, filter.Spec{Dst: netip.MustParsePrefix("127.0.0.1/32")})
	var steps atomic.Uint64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, func(*event.Event) error { steps.Add(1); return nil }, nil)
	}()
	udp, tcp := udpRate(t), tcpRate(t)
	kernel := ourMisses(before)
	got, err := p.NotRun()
	if err != nil {
		t.Fatalf("NotRun: %v", err)
	}
	after := ourMisses(before)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	t.Logf("%.0f datagrams/s, %.0f bytes/s of TCP, %d steps; probe hits not run: droptrace %d, the kernel %d then %d", udp, tcp, steps.Load(), got, kernel, after)
	if got < kernel || got > after {
		t.Errorf("droptrace counts %d probe hits not run; the kernel's programs %d before and %d after", got, kernel, after)
	}
}

// ourMisses sums the recursion misses of the programs loaded since
// before was read.
func ourMisses(before map[ebpf.ProgramID]progStats) uint64 {
	var n uint64
	for id, st := range bpfPrograms() {
		if _, old := before[id]; !old {
			n += st.RecursionMisses
		}
	}
	return n
}
