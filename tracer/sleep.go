package tracer

import (
	"errors"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
)

// wakeSleeper is the programs' sleeper (bpf/wake.h): Arm sets their
// reader_flag, and their next event clears it and writes a record to the
// wake ring, whose notification ends the wait.
type wakeSleeper struct {
	flag  *ebpf.Map
	rd    *ringbuf.Reader
	woken chan struct{}
}

// wakeMaps are an object's reader_flag and wake maps (bpf/wake.h).
type wakeMaps struct{ flag, ring *ebpf.Map }

// newWakeSleeper starts listening on the wake ring.
func newWakeSleeper(m wakeMaps) (*wakeSleeper, error) {
	if m.flag == nil || m.ring == nil {
		return nil, errors.New("no wake-up flag or ring")
	}
	s := &wakeSleeper{flag: m.flag, woken: make(chan struct{}, 1)}
	if err := s.set(0); err != nil {
		return nil, err
	}
	rd, err := ringbuf.NewReader(m.ring)
	if err != nil {
		return nil, err
	}
	s.rd = rd
	go s.listen()
	return s, nil
}

func (s *wakeSleeper) set(v uint32) error { return s.flag.Update(uint32(0), v, ebpf.UpdateAny) }

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

// fence orders the flag's store (the map update) before the loads of
// the ring's positions that follow it (an atomic read-modify-write is a
// full barrier on amd64 and arm64); the programs read the flag after
// their record's commit, itself a full barrier. So either the read
// loop's last look sees the record or the program sees the flag.
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
