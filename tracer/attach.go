package tracer

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/kernel"
)

// Attachment modes of the drop program, as reported to the user.
const (
	ModeTpBTF      = "tp_btf/kfree_skb"
	ModeTracepoint = "tracepoint/skb/kfree_skb"
)

// Hooks accepted by Config.Hook.
const (
	HookAuto       = "auto"
	HookTpBTF      = "tp_btf"
	HookTracepoint = "tracepoint"
)

// attachDrop loads and attaches the drop program: with HookAuto the
// BTF-typed tracepoint where the kernel allows it (5.5+), else the
// classic one. fallback says why tp_btf was not used, "" when it was.
// The maps in shared (by name) are used instead of new ones. With nft,
// the drop program reads the rule the kernel named (tp_btf only), and
// when nft.load the program on __nft_trace_packet is loaded and attached.
func attachDrop(spec *ebpf.CollectionSpec, kspec *btf.Spec, hook string, shared map[string]*ebpf.Map, replies bool, nft *nftHook) (coll *ebpf.Collection, l link.Link, mode, fallback string, err error) {
	if hook != HookTracepoint {
		coll, l, err = attachTpBTF(spec, kspec, shared, replies, nft)
		if err == nil {
			return coll, l, ModeTpBTF, "", nil
		}
		var ve *ebpf.VerifierError
		if hook == HookTpBTF || errors.As(err, &ve) {
			return nil, nil, "", "", err
		}
		fallback = err.Error()
	} else {
		fallback = "--drop-hook tracepoint"
	}
	coll, l, err = attachTracepoint(spec, shared)
	if err != nil {
		return nil, nil, "", "", fmt.Errorf("%w (tp_btf: %s)", err, fallback)
	}
	return coll, l, ModeTracepoint, fallback, nil
}

func attachTpBTF(spec *ebpf.CollectionSpec, kspec *btf.Spec, shared map[string]*ebpf.Map, replies bool, nft *nftHook) (*ebpf.Collection, link.Link, error) {
	params, err := kernel.TracepointParams(kspec, "kfree_skb")
	if err != nil {
		return nil, nil, err
	}
	spec = spec.Copy()
	// kfree_skb has carried the drop reason as its third argument since 5.17.
	if err := spec.Variables[bpf.DropVarCfgTpHasReason].Set(boolByte(params >= 3)); err != nil {
		return nil, nil, fmt.Errorf("setting %s: %w", bpf.DropVarCfgTpHasReason, err)
	}
	keep := []string{bpf.DropProgKfreeSkbBtf}
	if replies = replies && repliesTraceable(kspec); replies {
		keep = append(keep, replyPrograms...)
	}
	if err := spec.Variables[bpf.DropVarCfgReplies].Set(boolByte(replies)); err != nil {
		return nil, nil, fmt.Errorf("setting %s: %w", bpf.DropVarCfgReplies, err)
	}
	if err := configureNft(spec, nft); err != nil {
		return nil, nil, err
	}
	if nft != nil && nft.load {
		keep = append(keep, nft.prog())
	}
	coll, err := load(spec, kspec, nft.relocationTargets(), shared, keep...)
	if err != nil {
		return nil, nil, err
	}
	if nft != nil && nft.load {
		if err := nft.attach(coll); err != nil {
			coll.Close()
			return nil, nil, err
		}
	}
	l, err := link.AttachTracing(link.TracingOptions{
		Program:    coll.Programs[bpf.DropProgKfreeSkbBtf],
		AttachType: ebpf.AttachTraceRawTp,
	})
	if err != nil {
		nft.detach()
		coll.Close()
		return nil, nil, fmt.Errorf("attaching %s: %w", ModeTpBTF, err)
	}
	return coll, l, nil
}

func attachTracepoint(spec *ebpf.CollectionSpec, shared map[string]*ebpf.Map) (*ebpf.Collection, link.Link, error) {
	if _, err := kernel.EnsureTracefs(); err != nil {
		return nil, nil, err
	}
	spec = spec.Copy()
	if err := spec.Variables[bpf.DropVarCfgReplies].Set(uint8(0)); err != nil {
		return nil, nil, fmt.Errorf("setting %s: %w", bpf.DropVarCfgReplies, err)
	}
	if err := configureNft(spec, nil); err != nil {
		return nil, nil, err
	}
	coll, err := load(spec, nil, nil, shared, bpf.DropProgKfreeSkbTp)
	if err != nil {
		return nil, nil, err
	}
	l, err := link.Tracepoint("skb", "kfree_skb", coll.Programs[bpf.DropProgKfreeSkbTp], nil)
	if err != nil {
		coll.Close()
		return nil, nil, fmt.Errorf("attaching %s: %w", ModeTracepoint, err)
	}
	return coll, l, nil
}

// load creates the collection with only the programs named keep, so no
// program the run does not need reaches the verifier. extra are BTF
// besides kspec that CO-RE relocations may need (kernel modules').
func load(spec *ebpf.CollectionSpec, kspec *btf.Spec, extra []*btf.Spec, shared map[string]*ebpf.Map, keep ...string) (*ebpf.Collection, error) {
	for name := range spec.Programs {
		if !slices.Contains(keep, name) {
			delete(spec.Programs, name)
		}
	}
	opts := ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: kspec, ExtraRelocationTargets: extra}, MapReplacements: shared}
	coll, err := ebpf.NewCollectionWithOptions(spec, opts)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", strings.Join(keep, ", "), err)
	}
	return coll, nil
}

func boolByte(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}
