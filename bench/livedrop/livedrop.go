// Package livedrop makes drops far more cheaply than datagrams sent
// through a socket, for the bench and the tests that need millions of
// them: BPF_PROG_TEST_RUN of an XDP program in live-frames mode
// (BPF_F_TEST_XDP_LIVE_FRAMES, Linux 5.18) runs the program over one
// frame again and again, and each XDP_PASS becomes an skb received on a
// device, in the calling thread's namespace, without a sender, a socket or
// a veth crossing. A frame made by OtherHostFrame is addressed to another
// host's MAC, so ip_rcv drops it at once: SKB_DROP_REASON_OTHERHOST. The
// drops happen in the caller's system call, on its CPU.
package livedrop

import (
	"fmt"
	"net"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// liveFramesFlag is BPF_F_TEST_XDP_LIVE_FRAMES.
const liveFramesFlag = 1 << 1

// Source runs frames through an XDP program that counts them and passes
// them on.
type Source struct {
	prog  *ebpf.Program
	count *ebpf.Map // frames the program ran on: one u64
}

// New loads the program.
func New() (*Source, error) {
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
	return &Source{prog: prog, count: count}, nil
}

// Close unloads the program.
func (s *Source) Close() {
	s.prog.Close()
	s.count.Close()
}

// Frames returns how many frames the program has run on so far.
func (s *Source) Frames() (uint64, error) {
	var n uint64
	if err := s.count.Lookup(uint32(0), &n); err != nil {
		return 0, fmt.Errorf("reading the live-frames counter: %w", err)
	}
	return n, nil
}

// Call is one BPF_PROG_TEST_RUN: n copies of a frame received on a device.
type Call struct {
	opts *ebpf.RunOptions
}

// NewCall prepares calls of n copies of frame, received on the device
// named dev. The device is looked up in the calling thread's namespace,
// as the kernel looks up the context's ingress_ifindex: make and run
// calls from a thread in the device's namespace.
func NewCall(dev string, frame []byte, n int) (*Call, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return nil, fmt.Errorf("live frames: %w", err)
	}
	return &Call{opts: &ebpf.RunOptions{
		Data:      frame,
		Repeat:    uint32(n),
		Flags:     liveFramesFlag,
		BatchSize: 256,
		Context:   xdpMD{DataEnd: uint32(len(frame)), IngressIfindex: uint32(ifi.Index)},
	}}, nil
}

// Run makes the call's frames, as fast as the CPU allows. Each call also
// sets up and tears down a page pool, which sleeps about 20 ms.
func (s *Source) Run(c *Call) error {
	if _, err := s.prog.Run(c.opts); err != nil {
		return fmt.Errorf("BPF_PROG_TEST_RUN in live-frames mode: %w", err)
	}
	return nil
}

// xdpMD is struct xdp_md, the context BPF_PROG_TEST_RUN takes for XDP.
type xdpMD struct {
	Data, DataEnd, DataMeta uint32
	IngressIfindex          uint32
	RxQueueIndex            uint32
	EgressIfindex           uint32
}

// OtherHostFrame is a 64-byte UDP datagram from src to dst:dport in an
// Ethernet frame to a MAC that is no one's (locally administered).
func OtherHostFrame(src, dst net.IP, dport uint16) []byte {
	f := make([]byte, 14+20+8+64)
	copy(f[0:6], []byte{0x02, 0xdb, 0, 0, 0, 0x01})
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
	udp[2], udp[3] = byte(dport>>8), byte(dport)
	udp[4], udp[5] = 0, 8+64
	return f
}
