package tracer

import (
	"errors"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
)

// wakeSleeper is the sleeper of the path programs (bpf/trace.c): Arm
// sets their reader_asleep flag, and the next step clears it and writes a
// record to the wake ring, whose notification ends the wait.
type wakeSleeper struct {
	flag  *ebpf.Variable
	rd    *ringbuf.Reader
	woken chan struct{}
}

// newWakeSleeper starts listening on the wake ring. It fails where the
// flag cannot be written directly (a global in a map user space maps,
// 5.5+): the read loop then polls, as it did before.
func newWakeSleeper(flag *ebpf.Variable, wake *ebpf.Map) (*wakeSleeper, error) {
	if flag == nil || wake == nil {
		return nil, errors.New("no wake-up flag or ring")
	}
	if err := flag.Set(uint32(0)); err != nil {
		return nil, err
	}
	rd, err := ringbuf.NewReader(wake)
	if err != nil {
		return nil, err
	}
	s := &wakeSleeper{flag: flag, rd: rd, woken: make(chan struct{}, 1)}
	go s.listen()
	return s, nil
}

// listen passes each wake-up on, until the reader is closed.
func (s *wakeSleeper) listen() {
	var rec ringbuf.Record
	for {
		if err := s.rd.ReadInto(&rec); err != nil {
			return
		}
		select {
		case s.woken <- struct{}{}:
		default:
		}
	}
}

// fence orders the flag's store before the loads of the ring's
// positions that follow it (an atomic read-modify-write is a full
// barrier on amd64 and arm64); the programs read the flag after their
// record's commit, itself a full barrier. So either the read loop's last
// look sees the record or the program sees the flag.
var fence atomic.Uint32

func (s *wakeSleeper) Arm() error {
	if err := s.flag.Set(uint32(1)); err != nil {
		return err
	}
	fence.Add(1)
	return nil
}

func (s *wakeSleeper) Woken() <-chan struct{} { return s.woken }

func (s *wakeSleeper) Close() error { return s.rd.Close() }
