package tracer

import (
	"errors"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
)

// wakeSleeper is the sleeper of the programs: Arm sets their flag
// (reader_asleep in bpf/trace.c, reader_flag in bpf/rings.h), and their
// next event clears it and writes a record to the wake ring, whose
// notification ends the wait.
type wakeSleeper struct {
	set   func(uint32) error
	rd    *ringbuf.Reader
	woken chan struct{}
}

// pathSleeper is the path programs' sleeper: their flag is a global. It
// fails where the global cannot be written directly (a map user space
// maps, 5.5+): the read loop then polls, as it did before.
func pathSleeper(flag *ebpf.Variable, wake *ebpf.Map) (*wakeSleeper, error) {
	if flag == nil {
		return nil, errors.New("no wake-up flag")
	}
	return newWakeSleeper(func(v uint32) error { return flag.Set(v) }, wake)
}

// ringsSleeper is the drop and TCP programs' sleeper: their flag is the
// one element of an array map.
func ringsSleeper(flag, wake *ebpf.Map) (*wakeSleeper, error) {
	if flag == nil {
		return nil, errors.New("no wake-up flag")
	}
	return newWakeSleeper(func(v uint32) error { return flag.Update(uint32(0), v, ebpf.UpdateAny) }, wake)
}

// newWakeSleeper starts listening on the wake ring.
func newWakeSleeper(set func(uint32) error, wake *ebpf.Map) (*wakeSleeper, error) {
	if wake == nil {
		return nil, errors.New("no wake-up ring")
	}
	if err := set(0); err != nil {
		return nil, err
	}
	rd, err := ringbuf.NewReader(wake)
	if err != nil {
		return nil, err
	}
	s := &wakeSleeper{set: set, rd: rd, woken: make(chan struct{}, 1)}
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
	if err := s.set(1); err != nil {
		return err
	}
	fence.Add(1)
	return nil
}

func (s *wakeSleeper) Woken() <-chan struct{} { return s.woken }

func (s *wakeSleeper) Close() error { return s.rd.Close() }
