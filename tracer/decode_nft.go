package tracer

import (
	"unsafe"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/event"
)

// decodeNftRule fills ev.KernelRule from the struct nft_rule_sample at
// the start of raw: the rule the kernel said dropped the packet.
func decodeNftRule(raw []byte, ev *event.Event) {
	s := *(*bpf.DropNftRuleSample)(unsafe.Pointer(&raw[0]))
	ev.KernelRule = &event.KernelRule{
		Family: s.Family, Hook: s.Hook,
		Table: cString(s.Table[:]), Chain: cString(s.Chain[:]),
		Handle: s.Handle, Policy: s.Policy != 0,
	}
}
