package main

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// liveStorm makes drops far more cheaply than datagrams sent through a
// socket: BPF_PROG_TEST_RUN of an XDP program in live-frames mode
// (BPF_F_TEST_XDP_LIVE_FRAMES, Linux 5.18) runs the program over one
// frame again and again, and each XDP_PASS becomes an skb received on the
// server's veth, in the server namespace, without a sender, a socket or a
// veth crossing. The frame is addressed to another host's MAC, so
// ip_rcv drops it at once: SKB_DROP_REASON_OTHERHOST. The drops happen in
// the generator's system calls, on the CPU it is pinned to, which leaves
// the other CPU to droptrace.
type liveStorm struct {
	ns, dev string
	cpus    []int // liveThreads threads on each
	prog    *ebpf.Program
	count   *ebpf.Map // frames the program ran on: one u64
}

// liveFramesFlag is BPF_F_TEST_XDP_LIVE_FRAMES.
const liveFramesFlag = 1 << 1

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
	count, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		return nil, fmt.Errorf("live-frames counter: %w", err)
	}
	// *count += 1 (atomically); return XDP_PASS.
	insns := asm.Instructions{
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.LoadMapPtr(asm.R1, count.FD()),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "pass"),
		asm.Mov.Imm(asm.R1, 1),
		asm.AddAtomic.Mem(asm.R0, asm.R1, asm.DWord, 0),
		asm.Mov.Imm(asm.R0, 2).WithSymbol("pass"), // XDP_PASS
		asm.Return(),
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.XDP, License: "GPL", Instructions: insns})
	if err != nil {
		count.Close()
		return nil, fmt.Errorf("live-frames program: %w", err)
	}
	return &liveStorm{ns: ns, dev: dev, cpus: cpus, prog: prog, count: count}, nil
}

func (s *liveStorm) close() {
	s.prog.Close()
	s.count.Close()
}

// frames returns how many frames the program has run on so far: each is
// one drop.
func (s *liveStorm) frames() (uint64, error) {
	var n uint64
	if err := s.count.Lookup(uint32(0), &n); err != nil {
		return 0, fmt.Errorf("reading the live-frames counter: %w", err)
	}
	return n, nil
}

// xdpMD is struct xdp_md, the context BPF_PROG_TEST_RUN takes for XDP.
type xdpMD struct {
	Data, DataEnd, DataMeta uint32
	IngressIfindex          uint32
	RxQueueIndex            uint32
	EgressIfindex           uint32
}

// otherHostFrame is a 64-byte UDP datagram to the server's address in an
// Ethernet frame to a MAC that is not the server's.
func otherHostFrame(src, dst net.IP) []byte {
	f := make([]byte, 14+20+8+64)
	copy(f[0:6], []byte{0x02, 0xdb, 0, 0, 0, 0x01}) // locally administered, no one's
	copy(f[6:12], []byte{0x02, 0xdb, 0, 0, 0, 0x02})
	f[12], f[13] = 0x08, 0x00
	ip := f[14:34]
	ip[0] = 0x45
	ip[2], ip[3] = 0, 20+8+64
	ip[8], ip[9] = 64, 17
	copy(ip[12:16], src.To4())
	copy(ip[16:20], dst.To4())
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(ip[i])<<8 | uint32(ip[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	ip[10], ip[11] = byte(^sum>>8), byte(^sum)
	udp := f[34:42]
	udp[0], udp[1] = 0x9c, 0x40 // 40000
	udp[2], udp[3] = byte(stormPort>>8), byte(stormPort&0xff)
	udp[4], udp[5] = 0, 8+64
	return f
}

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
	// Looked up in this thread's namespace, as the kernel looks up the
	// context's ingress_ifindex.
	ifi, err := net.InterfaceByName(s.dev)
	if err != nil {
		return fmt.Errorf("live frames: %w", err)
	}
	perCall := max(1000, int(float64(rate)*liveCall.Seconds()))
	opts := &ebpf.RunOptions{
		Data:      frame,
		Repeat:    uint32(perCall),
		Flags:     liveFramesFlag,
		BatchSize: 256,
		Context:   xdpMD{DataEnd: uint32(len(frame)), IngressIfindex: uint32(ifi.Index)},
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
		if _, err := s.prog.Run(opts); err != nil {
			return fmt.Errorf("BPF_PROG_TEST_RUN in live-frames mode: %w", err)
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
