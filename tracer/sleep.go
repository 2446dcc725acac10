package tracer

import (
	"errors"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/droptrace/droptrace/bpf"
)

// wakeSleeper is the programs' sleeper (bpf/wake.h): Arm and Watch set
// their reader_flag, and the next event that must wake the reader (any
// event after Arm, one that leaves its ring holding high bytes or more
// after Watch) clears it and writes a record to the wake ring, whose
// notification ends the wait.
type wakeSleeper struct {
	flag  *ebpf.Map
	rd    *ringbuf.Reader
	woken chan struct{}
	high  uint32 // bytes in a ring that end a wait between polls
}

// wakeMaps are an object's reader_flag and wake maps (bpf/wake.h).
type wakeMaps struct{ flag, ring *ebpf.Map }

// wakeShare is the share of a ring that, filled between two polls, wakes
// the reader: what nextPoll lets fill at the rate it measured, so that a
// steady rate wakes it at most a little before its poll, and three
// quarters of a ring left for a burst while the reader drains (at two
// million events a second, 41 ms of a 16 MiB ring). With half a ring
// left, a burst of 400,000 events lost a few thousand one run in five
// when droptrace's output went through a pipe (e2e/TestBurstNotLost).
const wakeShare = fillTarget

// newWakeSleeper starts listening on the wake ring; between polls, a ring
// of ringSize bytes filled to wakeShare wakes the reader.
func newWakeSleeper(m wakeMaps, ringSize int) (*wakeSleeper, error) {
	if m.flag == nil || m.ring == nil {
		return nil, errors.New("no wake-up flag or ring")
	}
	// Values under 2 mean polling and asleep.
	high := max(uint32(float64(ringSize)*wakeShare), uint32(bpf.DropReaderStateREADER_ASLEEP)+1)
	s := &wakeSleeper{flag: m.flag, woken: make(chan struct{}, 1), high: high}
	if err := s.set(bpf.DropReaderStateREADER_POLLING); err != nil {
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

func (s *wakeSleeper) set(v bpf.DropReaderState) error {
	return s.flag.Update(uint32(0), uint32(v), ebpf.UpdateAny)
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

// fence orders the flag's store (the map update) before the loads of
// the ring's positions that follow it (an atomic read-modify-write is a
// full barrier on amd64 and arm64); the programs read the flag after
// their record's commit, itself a full barrier. So either the read
// loop's last look sees the record or the program sees the flag. (On
// amd64 a step's commit is a plain store, which the flag's load may
// pass: the read loop looks again armGrace later.)
var fence atomic.Uint32

func (s *wakeSleeper) Arm() error {
	if err := s.set(bpf.DropReaderStateREADER_ASLEEP); err != nil {
		return err
	}
	fence.Add(1)
	return nil
}

// Watch asks the programs to wake the reader before its next poll should
// a ring hold high bytes: no fence, as the poll comes anyway.
func (s *wakeSleeper) Watch() error { return s.set(bpf.DropReaderState(s.high)) }

func (s *wakeSleeper) Woken() <-chan struct{} { return s.woken }

func (s *wakeSleeper) Close() error { return s.rd.Close() }
