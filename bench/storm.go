package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// stormBatch is how many datagrams one sendmmsg carries.
const stormBatch = 64

// storm sends 64-byte UDP datagrams from namespace ns to addr:port as fast
// as senders threads can, until ctx ends; with rate > 0 it paces the total
// to about rate datagrams a second. sent counts the datagrams handed to
// the kernel.
type storm struct {
	ns, addr string
	port     int
	senders  int
	rate     int
	sent     atomic.Uint64
}

func (s *storm) run(ctx context.Context) error {
	var wg sync.WaitGroup
	errc := make(chan error, s.senders)
	for i := range s.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Never unlocked: the thread ends with the goroutine instead of
			// going back to the pool inside the client namespace.
			runtime.LockOSThread()
			pin(i % runtime.NumCPU())
			if err := s.send(ctx); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

func (s *storm) send(ctx context.Context) error {
	if err := enterNetns(s.ns); err != nil {
		return err
	}
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP(s.addr), Port: s.port})
	if err != nil {
		return fmt.Errorf("storm socket: %w", err)
	}
	defer c.Close()
	pc := ipv4.NewPacketConn(c)
	msgs := make([]ipv4.Message, stormBatch)
	payload := make([]byte, 64)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{payload}
	}
	pace := s.pacer()
	for ctx.Err() == nil {
		n, err := pc.WriteBatch(msgs, 0)
		if err != nil && !isTransient(err) {
			return fmt.Errorf("storm sendmmsg: %w", err)
		}
		s.sent.Add(uint64(n))
		pace(n)
	}
	return nil
}

// pacer returns a function that sleeps enough after each batch to keep
// this sender at its share of s.rate; it does nothing without a rate.
func (s *storm) pacer() func(int) {
	if s.rate <= 0 {
		return func(int) {}
	}
	perSender := float64(s.rate) / float64(s.senders)
	start := time.Now()
	var sent float64
	return func(n int) {
		sent += float64(n)
		due := start.Add(time.Duration(sent / perSender * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
	}
}

// isTransient reports errors a flood may meet and carry on after: a full
// socket buffer or a queue that refused the packet.
func isTransient(err error) bool {
	return errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ECONNREFUSED)
}

func enterNetns(ns string) error {
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("entering netns %s: %w", ns, err)
	}
	return nil
}

// pin keeps the calling thread on one CPU: senders that the scheduler
// moves around make the storm's rate swing from round to round.
func pin(cpu int) {
	var set unix.CPUSet
	set.Set(cpu)
	_ = unix.SchedSetaffinity(0, &set)
}
