package tracer

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/kernel"
)

// Attachment modes of the TCP programs, as reported to the user.
const (
	TCPModeTpBTF      = "tp_btf/tcp_*"
	TCPModeTracepoint = "tracepoint/tcp/tcp_*"
)

// tcpTracepoint is one tcp:* tracepoint that --tcp attaches to.
type tcpTracepoint struct {
	name    string
	btfProg string // tp_btf program
	tpProg  string // classic tracepoint program
	args    int    // arguments the tp_btf program reads
}

var tcpTracepoints = []tcpTracepoint{
	{"tcp_retransmit_skb", bpf.TcpProgTcpRetransmitSkbBtf, bpf.TcpProgTcpRetransmitSkbTp, 1},
	{"tcp_retransmit_synack", bpf.TcpProgTcpRetransmitSynackBtf, bpf.TcpProgTcpRetransmitSynackTp, 2},
	{"tcp_send_reset", bpf.TcpProgTcpSendResetBtf, bpf.TcpProgTcpSendResetTp, 2},
	{"tcp_receive_reset", bpf.TcpProgTcpReceiveResetBtf, bpf.TcpProgTcpReceiveResetTp, 1},
}

// tcpProbe is the loaded and attached TCP object. It writes to the drop
// object's ring buffer and counters.
type tcpProbe struct {
	coll     *ebpf.Collection
	links    []link.Link
	mode     string
	fallback string
}

// openTCP loads the TCP programs with the filters of f, sharing the maps
// of the drop collection, and attaches them: to the BTF-typed tracepoints
// where the kernel allows it, else to the classic ones.
func openTCP(f filter.Spec, hz int, kspec *btf.Spec, drop *ebpf.Collection) (*tcpProbe, error) {
	spec, err := bpf.LoadTcp()
	if err != nil {
		return nil, fmt.Errorf("reading the embedded TCP BPF object: %w", err)
	}
	consts := tcpConstants(f, hz)
	consts[bpf.TcpVarCfgRetransErr] = retransErr(kspec)
	if err := setConstants(spec, consts); err != nil {
		return nil, err
	}
	// The TCP object declares the rings map alike; it takes the size of
	// the drop object's, which it shares.
	rings := drop.Maps[bpf.DropMapCpuEvents]
	spec.Maps[bpf.TcpMapCpuEvents].MaxEntries = rings.MaxEntries()
	spec.Maps[bpf.TcpMapCpuEvents].InnerMap.MaxEntries = ringSize(int(rings.MaxEntries()))
	shared := map[string]*ebpf.Map{
		bpf.TcpMapCpuEvents:     drop.Maps[bpf.DropMapCpuEvents],
		bpf.TcpMapStats:         drop.Maps[bpf.DropMapStats],
		bpf.TcpMapReasonFilter:  drop.Maps[bpf.DropMapReasonFilter],
		bpf.TcpMapReasonExclude: drop.Maps[bpf.DropMapReasonExclude],
		bpf.TcpMapReaderFlag:    drop.Maps[bpf.DropMapReaderFlag],
		bpf.TcpMapWake:          drop.Maps[bpf.DropMapWake],
	}
	p, err := attachTCPBTF(spec, kspec, shared)
	if err == nil {
		return p, nil
	}
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return nil, err
	}
	p, tpErr := attachTCPTracepoints(spec, shared)
	if tpErr != nil {
		return nil, fmt.Errorf("%w (tp_btf: %s)", tpErr, err)
	}
	p.fallback = err.Error()
	return p, nil
}

// tcpConstants are the values of the TCP object's volatile consts for f
// and the kernel's HZ.
func tcpConstants(f filter.Spec, hz int) map[string]any {
	return map[string]any{bpf.TcpVarFilters: bpf.TcpFilterCfg(filterConfig(f)), bpf.TcpVarCfgHz: uint32(hz),
		bpf.TcpVarCfgRetransErr: uint8(0)}
}

// retransErr says whether tcp_retransmit_skb passes the attempt's error
// (Linux 6.13+), so failed attempts can be left out.
func retransErr(kspec *btf.Spec) uint8 {
	n, err := kernel.TracepointParams(kspec, "tcp_retransmit_skb")
	return boolByte(err == nil && n >= 3)
}

// setConstants sets the volatile consts of spec; a name spec lacks is an
// error.
func setConstants(spec *ebpf.CollectionSpec, consts map[string]any) error {
	for name, v := range consts {
		vs, ok := spec.Variables[name]
		if !ok {
			return fmt.Errorf("BPF object has no variable %s", name)
		}
		if err := vs.Set(v); err != nil {
			return fmt.Errorf("setting %s: %w", name, err)
		}
	}
	return nil
}

func attachTCPBTF(spec *ebpf.CollectionSpec, kspec *btf.Spec, shared map[string]*ebpf.Map) (*tcpProbe, error) {
	var progs []string
	for _, tp := range tcpTracepoints {
		n, err := kernel.TracepointParams(kspec, tp.name)
		if err != nil {
			return nil, err
		}
		if n < tp.args {
			return nil, fmt.Errorf("tracepoint %s passes %d arguments, want at least %d", tp.name, n, tp.args)
		}
		progs = append(progs, tp.btfProg)
	}
	p, err := loadTCP(spec, progs, kspec, shared)
	if err != nil {
		return nil, err
	}
	p.mode = TCPModeTpBTF
	for _, tp := range tcpTracepoints {
		l, err := link.AttachTracing(link.TracingOptions{
			Program:    p.coll.Programs[tp.btfProg],
			AttachType: ebpf.AttachTraceRawTp,
		})
		if err != nil {
			p.close()
			return nil, fmt.Errorf("attaching tp_btf/%s: %w", tp.name, err)
		}
		p.links = append(p.links, l)
	}
	return p, nil
}

func attachTCPTracepoints(spec *ebpf.CollectionSpec, shared map[string]*ebpf.Map) (*tcpProbe, error) {
	if _, err := kernel.EnsureTracefs(); err != nil {
		return nil, err
	}
	var progs []string
	for _, tp := range tcpTracepoints {
		progs = append(progs, tp.tpProg)
	}
	p, err := loadTCP(spec, progs, nil, shared)
	if err != nil {
		return nil, err
	}
	p.mode = TCPModeTracepoint
	for _, tp := range tcpTracepoints {
		l, err := link.Tracepoint("tcp", tp.name, p.coll.Programs[tp.tpProg], nil)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("attaching tracepoint/tcp/%s: %w", tp.name, err)
		}
		p.links = append(p.links, l)
	}
	return p, nil
}

// loadTCP creates the collection with only the programs in keep.
func loadTCP(spec *ebpf.CollectionSpec, keep []string, kspec *btf.Spec, shared map[string]*ebpf.Map) (*tcpProbe, error) {
	spec = spec.Copy()
	wanted := map[string]bool{}
	for _, name := range keep {
		wanted[name] = true
	}
	for name := range spec.Programs {
		if !wanted[name] {
			delete(spec.Programs, name)
		}
	}
	opts := ebpf.CollectionOptions{
		Programs:        ebpf.ProgramOptions{KernelTypes: kspec},
		MapReplacements: shared,
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, opts)
	if err != nil {
		return nil, fmt.Errorf("loading the TCP programs: %w", err)
	}
	return &tcpProbe{coll: coll}, nil
}

// detach stops new TCP events.
func (p *tcpProbe) detach() error {
	var errs []error
	for _, l := range p.links {
		errs = append(errs, l.Close())
	}
	p.links = nil
	return errors.Join(errs...)
}

// retire closes old, which p replaces, and returns the tracepoint hits
// its programs missed, so that TCPStats still counts them.
func (p *tcpProbe) retire(old *tcpProbe) (missed uint64) {
	old.detach()
	missed = retiredMisses(old.coll.Programs)
	old.close()
	return missed
}

func (p *tcpProbe) close() error {
	err := p.detach()
	p.coll.Close()
	return err
}

// TCPMode names how the TCP programs are attached; "" without --tcp.
func (t *Tracer) TCPMode() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tcp == nil {
		return ""
	}
	return t.tcp.mode
}

// TCPFallback says why the TCP programs do not use tp_btf; "" when they do.
func (t *Tracer) TCPFallback() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tcp == nil {
		return ""
	}
	return t.tcp.fallback
}

// HZ returns the kernel's HZ, with which the programs turn a TCP socket's
// RTO from jiffies into µs, and where it was found; 0 and "" without
// Config.TCP.
func (t *Tracer) HZ() (hz int, source string) { return t.hz, t.hzSource }

// TCPStats returns how many TCP events matched the filters in the
// kernel, how many of those did not fit in the ring buffer, and how many
// tracepoint hits the kernel did not run the TCP programs for (5.12+):
// a BTF-typed program that is running on a CPU is skipped when an
// interrupt on that CPU hits its tracepoint again, and the kernel counts
// that as the program's recursion_misses. Those events are lost too.
func (t *Tracer) TCPStats() (seen, lost, missed uint64, err error) {
	m := t.coll.Maps[bpf.DropMapStats]
	if seen, err = sumPerCPU(m, uint32(bpf.DropStatIndexSTAT_TCP_SEEN)); err != nil {
		return 0, 0, 0, err
	}
	if lost, err = sumPerCPU(m, uint32(bpf.DropStatIndexSTAT_TCP_LOST)); err != nil {
		return 0, 0, 0, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if missed, err = notRun(t.tcp.coll.Programs); err != nil {
		return 0, 0, 0, err
	}
	return seen, lost, missed + t.tcpMissed, nil
}
