package tracer

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/kernel"
)

// MaxSnaplen is the most packet bytes one event can carry.
const MaxSnaplen = 2048

// Config says what to trace.
type Config struct {
	Filter  filter.Spec
	Snaplen int    // packet bytes to copy per event, 0 for none
	Hook    string // HookAuto (or ""), HookTpBTF or HookTracepoint
	TCP     bool   // also report TCP retransmissions and resets (--tcp)
	// Replies links each drop to the ICMP error or TCP RST sent for it
	// just before (a REJECT's), with two more programs; tp_btf only.
	Replies bool
	// Nft is how to attach the program on __nft_trace_packet that lets
	// the kernel name the rule behind each NETFILTER_DROP (NftFentry or
	// NftKprobe, from ProbeNftAttach); "" for none. It sees rules only
	// while the nftables trace key is on (package nftrace). tp_btf only;
	// where it cannot be loaded, the rest still is, and NftUnavailable
	// says why.
	Nft string

	// Summary counts drops in the kernel by key instead of sending events;
	// SummaryKeys bounds the keys (DefaultSummaryKeys when 0).
	Summary     bool
	SummaryKeys int

	// Decoder turns records into events (reasons and locations named).
	Decoder *Decoder
}

// Tracer is the loaded and attached drop program.
type Tracer struct {
	coll     *ebpf.Collection // owns the maps; and the program until a retarget
	mode     string
	fallback string
	rings    []*ebpf.Map // one per CPU; none in summary mode
	summary  summaryState
	dec      *Decoder
	hz       int    // the kernel's HZ, with --tcp
	hzSource string // where hz was found

	cfg   Config    // what the programs were loaded for, for RetargetNetns
	kspec *btf.Spec //

	mu   sync.Mutex // guards what a retarget replaces
	link link.Link
	prog *ebpf.Collection // the attached program's, when not coll
	tcp  *tcpProbe        // nil without Config.TCP
	// replyLinks attach the reply programs (Config.Replies, where the
	// kernel allows); a retarget keeps them, and the replies map.
	replyLinks []link.Link
	nft        *nftHook // the nft verdict program; nil without Config.Nft
	nftWhy     string   // why Config.Nft could not be had
	tcpMissed  uint64   // recursion misses of retired TCP programs
	dropMissed uint64   // recursion misses of retired drop programs
	detached   bool
}

// Open loads the drop program specialised for cfg and attaches it.
func Open(cfg Config) (*Tracer, error) {
	if cfg.Snaplen < 0 || cfg.Snaplen > MaxSnaplen {
		return nil, fmt.Errorf("snaplen %d out of range 0-%d", cfg.Snaplen, MaxSnaplen)
	}
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("reading kernel BTF (droptrace needs a kernel built with CONFIG_DEBUG_INFO_BTF): %w", err)
	}
	spec, err := bpf.LoadDrop()
	if err != nil {
		return nil, fmt.Errorf("reading the embedded BPF object: %w", err)
	}
	var hz int
	var hzSource string
	if cfg.TCP {
		if hz, hzSource, err = kernel.HZ(); err != nil {
			return nil, err
		}
	}
	if err := configure(spec, cfg, kspec, hz); err != nil {
		return nil, err
	}
	var rings []*ebpf.Map
	if !cfg.Summary {
		if rings, err = newRings(spec, bpf.DropMapCpuEvents); err != nil {
			return nil, explainPermission(err)
		}
	}
	nft, nftWhy := nftFor(cfg, kspec)
	hook := cfg.Hook
	if nft != nil {
		hook = HookTpBTF // the nft program comes with tp_btf only
	}
	coll, l, mode, fallback, err := attachDrop(spec, kspec, hook, nil, cfg.Replies && !cfg.Summary, nft)
	if err != nil && nft != nil {
		// The rest does not need it: without it, rules are named by
		// counters and replay.
		nft, nftWhy = nil, verbose(err)
		coll, l, mode, fallback, err = attachDrop(spec, kspec, cfg.Hook, nil, cfg.Replies && !cfg.Summary, nil)
	}
	if err != nil {
		closeAll(rings)
		return nil, explainPermission(err)
	}
	t := &Tracer{coll: coll, link: l, mode: mode, fallback: fallback, rings: rings, dec: cfg.Decoder,
		cfg: cfg, kspec: kspec, hz: hz, hzSource: hzSource, nft: nft, nftWhy: nftWhy}
	if t.replyLinks, err = attachReplies(coll); err != nil {
		t.Close()
		return nil, explainPermission(err)
	}
	if err := t.setReasons(cfg.Filter); err != nil {
		t.Close()
		return nil, err
	}
	if cfg.TCP {
		if t.tcp, err = openTCP(cfg.Filter, hz, kspec, coll); err != nil {
			t.Close()
			return nil, explainPermission(err)
		}
	}
	return t, nil
}

// nftFor returns the nft verdict program cfg asks for, or why the
// kernel cannot have it.
func nftFor(cfg Config, kspec *btf.Spec) (*nftHook, string) {
	if cfg.Nft == "" || cfg.Summary {
		return nil, ""
	}
	if cfg.Hook == HookTracepoint {
		return nil, "--drop-hook tracepoint"
	}
	h, err := newNftHook(kspec, cfg.Nft)
	if err != nil {
		return nil, err.Error()
	}
	return h, ""
}

func configure(spec *ebpf.CollectionSpec, cfg Config, kspec *btf.Spec, hz int) error {
	if cfg.TCP && cfg.Filter.Expr != "" {
		return errExprTCP
	}
	sizeMaps(spec, cfg)
	if err := InjectExpr(spec, cfg.Filter.Expr, kspec); err != nil {
		return err
	}
	return setConstants(spec, dropConstants(cfg, hz))
}

// dropConstants are the values of the drop object's volatile consts for
// cfg and the kernel's HZ (0 without --tcp), but cfg_tp_has_reason, which
// attachTpBTF sets.
func dropConstants(cfg Config, hz int) map[string]any {
	return map[string]any{
		bpf.DropVarFilters:    filterConfig(cfg.Filter),
		bpf.DropVarCfgSnaplen: uint32(cfg.Snaplen),
		bpf.DropVarCfgSummary: boolByte(cfg.Summary),
		bpf.DropVarCfgTcp:     boolByte(cfg.TCP),
		bpf.DropVarCfgHz:      uint32(hz),
	}
}

// setReasons fills the maps of the reason filters: the reasons wanted
// (reason_filter) and the reasons left out (reason_exclude).
func (t *Tracer) setReasons(s filter.Spec) error {
	for _, m := range []struct {
		name  string
		codes []uint32
	}{{bpf.DropMapReasonFilter, s.Reasons}, {bpf.DropMapReasonExclude, s.Exclude}} {
		for _, code := range m.codes {
			if err := t.coll.Maps[m.name].Put(code, uint8(1)); err != nil {
				return fmt.Errorf("adding reason %d to %s: %w", code, m.name, err)
			}
		}
	}
	return nil
}

// explainPermission turns EPERM from the kernel into the one thing a user
// can do about it.
func explainPermission(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return errors.New(rejected(ve))
	}
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("root is needed (CAP_BPF and CAP_PERFMON): %w", err)
	}
	return err
}

// Mode names how the drop program is attached.
func (t *Tracer) Mode() string { return t.mode }

// Fallback says why the BTF tracepoint was not used; "" when it was.
func (t *Tracer) Fallback() string { return t.fallback }

// Detach stops new events; events already in the ring buffer stay
// readable. No retarget attaches anything after it.
func (t *Tracer) Detach() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.detached = true
	var errs []error
	if t.tcp != nil {
		errs = append(errs, t.tcp.detach())
	}
	errs = append(errs, closeLinks(t.replyLinks), t.nft.detach())
	t.replyLinks = nil
	if t.link != nil {
		errs = append(errs, t.link.Close())
		t.link = nil
	}
	return errors.Join(errs...)
}

// Close detaches and frees everything.
func (t *Tracer) Close() error {
	err := t.Detach()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tcp != nil {
		t.tcp.close()
	}
	if t.prog != nil {
		t.prog.Close()
	}
	t.coll.Close()
	closeAll(t.rings)
	return err
}

// Stats returns how many drops matched the filters in the kernel and how
// many of those could not be sent because the ring buffer was full.
func (t *Tracer) Stats() (seen, lost uint64, err error) {
	return seenLost(t.coll.Maps[bpf.DropMapStats])
}

// seenLost reads the matched and lost counts of a stats map.
func seenLost(m *ebpf.Map) (seen, lost uint64, err error) {
	if seen, err = sumPerCPU(m, uint32(bpf.DropStatIndexSTAT_SEEN)); err != nil {
		return 0, 0, err
	}
	lost, err = sumPerCPU(m, uint32(bpf.DropStatIndexSTAT_LOST))
	return seen, lost, err
}

func sumPerCPU(m *ebpf.Map, key uint32) (uint64, error) {
	var vals []uint64
	if err := m.Lookup(key, &vals); err != nil {
		return 0, fmt.Errorf("reading stats: %w", err)
	}
	var sum uint64
	for _, v := range vals {
		sum += v
	}
	return sum, nil
}

// verbose renders an error with the verifier's whole log when there is
// one, once: it is what a bug report needs.
func verbose(err error) string {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return rejected(ve)
	}
	return err.Error()
}

func rejected(ve *ebpf.VerifierError) string {
	return fmt.Sprintf("the kernel's verifier rejected the program: %+v", ve)
}
