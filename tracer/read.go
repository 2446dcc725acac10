package tracer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/output"
)

// ErrStop is returned by an emit callback to end Run early (e.g. --count).
var ErrStop = errors.New("stop")

// Run reads events and passes each to emit until ctx is done or emit
// returns ErrStop. When ctx ends it detaches first and then drains what
// the ring buffer still holds, so no event that was sent is left unread.
// idle, when not nil, is called whenever the ring buffer has been read
// empty: the moment to flush buffered output.
func (t *Tracer) Run(ctx context.Context, dec *Decoder, emit func(*output.Event) error, idle func() error) error {
	return readRing(ctx, t.coll.Maps[bpf.DropMapEvents], func() { t.Detach() }, dec.Decode, emit, idle)
}

// pollInterval is how often the ring buffer is read. The drop and path
// programs do not wake user space per event (BPF_RB_NO_WAKEUP); at a
// million events a second, 10 ms fill a quarter of the 8 MiB ring.
const pollInterval = 10 * time.Millisecond

// readRing is the read loop shared by every mode: decode turns one record
// into an event, detach stops new events when ctx ends.
func readRing(ctx context.Context, m *ebpf.Map, detach func(), decode func([]byte, *output.Event) error, emit func(*output.Event) error, idle func() error) error {
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		return fmt.Errorf("opening ring buffer: %w", err)
	}
	defer rd.Close()
	stop := context.AfterFunc(ctx, func() {
		detach()
		rd.Flush()
	})
	defer stop()

	var rec ringbuf.Record
	var ev output.Event
	for {
		rd.SetDeadline(time.Now().Add(pollInterval))
		err := rd.ReadInto(&rec)
		if errors.Is(err, ringbuf.ErrFlushed) {
			return nil // drained after ctx ended
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if idle != nil {
				if err := idle(); err != nil {
					return err
				}
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("reading ring buffer: %w", err)
		}
		if err := decode(rec.RawSample, &ev); err != nil {
			return err
		}
		if err := emit(&ev); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
		if idle != nil && rd.AvailableBytes() == 0 {
			if err := idle(); err != nil {
				return err
			}
		}
	}
}
