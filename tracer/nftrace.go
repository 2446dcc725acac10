package tracer

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/tracer/attach"
)

// Attach methods of the program that lets the kernel name the nftables
// rule behind a NETFILTER_DROP (Config.Nft).
const (
	NftFentry = "fentry"
	NftKprobe = "kprobe"
)

// nftTraceFunc is the kernel function the program is attached to: while
// the nftables trace key is on, nft_do_chain calls it with every rule
// that matched, every verdict and every base chain policy (bpf/nftrace.h).
const nftTraceFunc = "__nft_trace_packet"

// nftProbeFunc is a function every kernel has, to try an attach method on
// before nf_tables (a module on most distributions) is loaded.
const nftProbeFunc = "consume_skb"

// ProbeNftAttach returns the first of methods (NftFentry, NftKprobe)
// that works on this kernel, or why none does.
func ProbeNftAttach(methods ...string) (string, error) {
	var why []string
	for _, m := range methods {
		err := attach.ProbeBackend(attach.Backend(m), nftProbeFunc)
		if err == nil {
			return m, nil
		}
		why = append(why, fmt.Sprintf("%s: %v", m, err))
	}
	return "", errors.New(strings.Join(why, "; "))
}

// nftHook is how the nft verdict program is loaded.
type nftHook struct {
	method string    // NftFentry or NftKprobe
	layout uint8     // __nft_trace_packet's arguments (bpf/nftrace.h)
	module *btf.Spec // nf_tables' BTF, nil when nf_tables is built in
	load   bool      // load and attach the program; false on a retarget, where the running one stays
	link   link.Link // once attached
}

// nftLayouts are the argument names of __nft_trace_packet in each layout
// bpf/nftrace.h reads.
var nftLayouts = map[uint8][]string{
	1: {"info", "chain", "type"},                  // Debian's 6.1
	2: {"pkt", "verdict", "rule", "info", "type"}, // 6.12, 6.18
}

// newNftHook finds __nft_trace_packet's BTF, in the nf_tables module or
// in vmlinux, and the layout of its arguments.
func newNftHook(kspec *btf.Spec, method string) (*nftHook, error) {
	h := &nftHook{method: method, load: true}
	spec := kspec
	mod, err := btf.LoadKernelModuleSpec("nf_tables")
	switch {
	case err == nil:
		h.module, spec = mod, mod
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("reading nf_tables' BTF: %w", err)
	}
	var fn *btf.Func
	if err := spec.TypeByName(nftTraceFunc, &fn); err != nil {
		return nil, fmt.Errorf("no %s in the kernel's BTF (nf_tables not loaded?): %w", nftTraceFunc, err)
	}
	proto, ok := fn.Type.(*btf.FuncProto)
	if !ok {
		return nil, fmt.Errorf("%s has no prototype in BTF", nftTraceFunc)
	}
	var names []string
	for _, p := range proto.Params {
		names = append(names, p.Name)
	}
	for layout, want := range nftLayouts {
		if slices.Equal(names, want) {
			h.layout = layout
			return h, nil
		}
	}
	return nil, fmt.Errorf("%s(%s): arguments droptrace does not know", nftTraceFunc, strings.Join(names, ", "))
}

// prog names the program of the hook's method.
func (h *nftHook) prog() string {
	if h.method == NftKprobe {
		return bpf.DropProgNftTraceKprobe
	}
	return bpf.DropProgNftTraceFentry
}

// mode says how the program is attached, for the user.
func (h *nftHook) mode() string { return h.method + "/" + nftTraceFunc }

// configure sets the drop object's constants for the hook; nil h turns
// it off.
func configureNft(spec *ebpf.CollectionSpec, h *nftHook) error {
	on, layout := uint8(0), uint8(0)
	if h != nil {
		on, layout = 1, h.layout
	}
	for name, v := range map[string]uint8{bpf.DropVarCfgNft: on, bpf.DropVarCfgNftLayout: layout} {
		if err := spec.Variables[name].Set(v); err != nil {
			return fmt.Errorf("setting %s: %w", name, err)
		}
	}
	return nil
}

// attach attaches the loaded program of the hook.
func (h *nftHook) attach(coll *ebpf.Collection) error {
	prog := coll.Programs[h.prog()]
	if prog == nil {
		return fmt.Errorf("%s was not loaded", h.prog())
	}
	var err error
	if h.method == NftKprobe {
		h.link, err = link.Kprobe(nftTraceFunc, prog, nil)
	} else {
		h.link, err = link.AttachTracing(link.TracingOptions{Program: prog})
	}
	if err != nil {
		return fmt.Errorf("attaching %s: %w", h.mode(), err)
	}
	return nil
}

// detach detaches the program when it is attached; nil h does nothing.
func (h *nftHook) detach() error {
	if h == nil || h.link == nil {
		return nil
	}
	err := h.link.Close()
	h.link = nil
	return err
}

// relocationTargets are the BTF the programs' CO-RE relocations may
// need besides vmlinux: nf_tables' when it is a module.
func (h *nftHook) relocationTargets() []*btf.Spec {
	if h == nil || !h.load || h.module == nil {
		return nil
	}
	return []*btf.Spec{h.module}
}

// NftMode says how the program that lets the kernel name the rule behind
// a NETFILTER_DROP is attached; "" when it is not.
func (t *Tracer) NftMode() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.nft == nil || t.nft.link == nil {
		return ""
	}
	return t.nft.mode()
}

// NftUnavailable says why the kernel does not name the rules, when
// Config.Nft asked for it; "" otherwise.
func (t *Tracer) NftUnavailable() string { return t.nftWhy }
