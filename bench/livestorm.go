package main

import (
	"context"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/droptrace/droptrace/bench/livedrop"
)

// liveStorm makes drops with XDP live frames (livedrop) on the server's
// veth, from generator threads pinned to cpus, which leaves the other CPU
// to droptrace.
type liveStorm struct {
	ns, dev string
	cpus    []int // liveThreads threads on each
	src     *livedrop.Source
}

// liveCall is how long one BPF_PROG_TEST_RUN lasts at the paced rate.
// Each call also sets up and tears down a page pool, which sleeps about
// 20 ms here; threads on the same CPU take turns, so the CPU makes drops
// while another thread's call is tearing down.
const liveCall = 50 * time.Millisecond

// liveThreads is how many threads call BPF_PROG_TEST_RUN on each CPU:
// flat out with droptrace streaming, three made 1.52-1.70 million drops
// a second here, two 1.43-1.50.
const liveThreads = 3

func newLiveStorm(ns, dev string, cpus []int) (*liveStorm, error) {
	src, err := livedrop.New()
	if err != nil {
		return nil, err
	}
	return &liveStorm{ns: ns, dev: dev, cpus: cpus, src: src}, nil
}

func (s *liveStorm) close() { s.src.Close() }

// frames returns how many frames the program has run on so far: each is
// one drop.
func (s *liveStorm) frames() (uint64, error) { return s.src.Frames() }

// otherHostFrame is a 64-byte UDP datagram to the server's address in an
// Ethernet frame to a MAC that is not the server's.
func otherHostFrame(src, dst net.IP) []byte { return livedrop.OtherHostFrame(src, dst, stormPort) }

// run makes drops at about rate a second until ctx ends.
func (s *liveStorm) run(ctx context.Context, rate int, frame []byte) error {
	var wg sync.WaitGroup
	threads := liveThreads * len(s.cpus)
	errc := make(chan error, threads)
	for i := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Never unlocked: the thread ends with the goroutine instead of
			// going back to the pool inside the server namespace.
			runtime.LockOSThread()
			pin(s.cpus[i%len(s.cpus)])
			if err := s.send(ctx, rate/threads, frame, time.Duration(i)*liveCall/time.Duration(threads)); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// send is one generator thread: calls of liveCall's share of rate, each
// started when the frames before it are due.
func (s *liveStorm) send(ctx context.Context, rate int, frame []byte, offset time.Duration) error {
	if err := enterNetns(s.ns); err != nil {
		return err
	}
	perCall := max(1000, int(float64(rate)*liveCall.Seconds()))
	call, err := livedrop.NewCall(s.dev, frame, perCall)
	if err != nil {
		return err
	}
	start := time.Now().Add(offset)
	var sent float64
	for ctx.Err() == nil {
		if d := time.Until(start.Add(time.Duration(sent / float64(rate) * float64(time.Second)))); d > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(d):
			}
		}
		if err := s.src.Run(call); err != nil {
			return err
		}
		sent += float64(perCall)
	}
	return nil
}

// measure runs a live-frames storm paced at rate and returns the
// drops a second over window, after a moment to settle, and the frames
// of the whole storm.
func (s *liveStorm) measure(tp *topology, window time.Duration, rate int) (achieved float64, total uint64, err error) {
	first, err := s.frames()
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, rate, otherHostFrame(net.ParseIP(tp.clientIP), net.ParseIP(tp.serverIP))) }()
	var n0, n1 uint64
	var elapsed time.Duration
	func() {
		time.Sleep(300 * time.Millisecond)
		if n0, err = s.frames(); err != nil {
			return
		}
		start := time.Now()
		time.Sleep(window)
		n1, err = s.frames()
		elapsed = time.Since(start)
	}()
	cancel()
	if serr := <-done; err == nil {
		err = serr
	}
	last, ferr := s.frames()
	if err == nil {
		err = ferr
	}
	return float64(n1-n0) / elapsed.Seconds(), last - first, err
}
