package tracer

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/droptrace/droptrace/pcapfilter"
)

// Stubs of the pcap-filter expression in the drop and trace objects
// (bpf/pcap.h): one for data from the Ethernet header, one for data from
// the IP header.
const (
	stubL2 = "filter_pcap_l2"
	stubL3 = "filter_pcap_l3"
)

// errExprTCP refuses an expression for the TCP events, most of which are
// a socket's and have no packet to run it on.
var errExprTCP = errors.New("a filter expression does not apply to TCP events")

// InjectExpr compiles expr for both kinds of data and puts it in the stubs
// of spec, a drop or trace object (Open and OpenPath call it; the VM tests
// use it to verify each expression's programs without attaching). Without an expression the stubs stay as they are and pcap_on,
// 0, makes the verifier remove their calls. An expression that needs the
// link layer (vlan, arp, ether[]) does not compile for data from the IP
// header: that stub then matches nothing, as no such skb has the bytes
// the expression tests.
func InjectExpr(spec *ebpf.CollectionSpec, expr string, kspec *btf.Spec) error {
	if expr == "" {
		return nil
	}
	l2, err := pcapfilter.Compile(expr, pcapfilter.Ethernet)
	if err != nil {
		return err
	}
	l3, err := pcapfilter.Compile(expr, pcapfilter.RawIP)
	var pe *pcapfilter.Error
	if errors.As(err, &pe) {
		l3 = matchNothing()
	} else if err != nil {
		return err
	}
	if call, id, ok := castLoads(spec, kspec); ok {
		l2, l3 = pcapfilter.CastLoads(l2, call, id), pcapfilter.CastLoads(l3, call, id)
	}
	if err := pcapfilter.Inject(spec, stubL2, l2); err != nil {
		return fmt.Errorf("filter expression: %w", err)
	}
	if err := pcapfilter.Inject(spec, stubL3, l3); err != nil {
		return fmt.Errorf("filter expression: %w", err)
	}
	return nil
}

// castLoads says whether the filter can read packet bytes through
// bpf_rdonly_cast (6.2+; see skb.h): the kernel kspec has the kfunc, and
// returns a call of it from spec's programs, which binds it for the loader,
// and the kernel type id the loads go through. Reading so costs a fraction
// of a bpf_probe_read_kernel call per load.
func castLoads(spec *ebpf.CollectionSpec, kspec *btf.Spec) (asm.Instruction, btf.TypeID, bool) {
	if kspec == nil {
		return asm.Instruction{}, 0, false
	}
	var fn *btf.Func
	var addr *btf.Struct
	if kspec.TypeByName("bpf_rdonly_cast", &fn) != nil || kspec.TypeByName("in6_addr", &addr) != nil {
		return asm.Instruction{}, 0, false
	}
	id, err := kspec.TypeID(addr)
	if err != nil {
		return asm.Instruction{}, 0, false
	}
	for _, prog := range spec.Programs {
		for _, ins := range prog.Instructions {
			if ins.IsKfuncCall() && ins.Reference() == "bpf_rdonly_cast" {
				return ins, id, true
			}
		}
	}
	return asm.Instruction{}, 0, false
}

// matchNothing is a filter body that returns 0.
func matchNothing() asm.Instructions {
	return asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}
}
