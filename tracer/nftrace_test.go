package tracer

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf/btf"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/event"
)

func nftSample(table, chain string, handle uint64, family, hook, policy uint8) bpf.DropNftRuleSample {
	s := bpf.DropNftRuleSample{Handle: handle, Family: family, Hook: hook, Policy: policy}
	for i := range min(len(table), len(s.Table)-1) {
		s.Table[i] = int8(table[i])
	}
	for i := range min(len(chain), len(s.Chain)-1) {
		s.Chain[i] = int8(chain[i])
	}
	return s
}

func bytesOf[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}

// TestDecodeNftRule: the rule the kernel named comes after the TCP
// sample and before the packet, whichever of them the record has.
func TestDecodeNftRule(t *testing.T) {
	pkt := ipv4(protoTCP, nil, 0, l4(40000, 8443, 20))
	long := "a_table_name_longer_than_31_bytes_is_cut"
	tests := []struct {
		name   string
		tcp    bool
		sample bpf.DropNftRuleSample
		want   event.KernelRule
	}{
		{"rule", false, nftSample("filter", "INPUT", 7, 2, 1, 0),
			event.KernelRule{Family: 2, Hook: 1, Table: "filter", Chain: "INPUT", Handle: 7}},
		{"policy after a tcp sample", true, nftSample("fw", "forward", 0, 1, 2, 1),
			event.KernelRule{Family: 1, Hook: 2, Table: "fw", Chain: "forward", Policy: true}},
		{"cut name, chain not found", false, nftSample(long, "", 99, 10, 3, 0),
			event.KernelRule{Family: 10, Hook: 3, Table: long[:31], Handle: 99}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_DROP), HasNftRule: 1,
				CapLen: uint16(len(pkt)), Link: uint8(bpf.DropLinkKindLINK_RAW_IP)}
			raw := dropRecord(&re, nil)
			if tt.tcp {
				re.HasTcpSample = 1
				raw = dropRecord(&re, nil)
				s := bpf.DropTcpSample{RttUs: 5}
				raw = append(raw, bytesOf(&s)...)
			}
			raw = append(append(raw, bytesOf(&tt.sample)...), pkt...)
			d, _ := testDecoder()
			var ev event.Event
			if err := d.Decode(raw, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.KernelRule == nil || *ev.KernelRule != tt.want {
				t.Errorf("KernelRule = %+v, want %+v", ev.KernelRule, tt.want)
			}
			if tt.tcp != (ev.TCPInfo != nil) || !bytes.Equal(ev.Packet, pkt) {
				t.Errorf("TCPInfo %+v, packet %x: want the sample %v and the packet", ev.TCPInfo, ev.Packet, tt.tcp)
			}
		})
	}
	t.Run("truncated", func(t *testing.T) {
		re := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_DROP), HasNftRule: 1}
		d, _ := testDecoder()
		var ev event.Event
		if err := d.Decode(dropRecord(&re, make([]byte, 16)), &ev); err == nil {
			t.Errorf("decoded a record whose nft rule is cut short")
		}
	})
	t.Run("without", func(t *testing.T) {
		re := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_DROP)}
		d, _ := testDecoder()
		var ev event.Event
		if err := d.Decode(dropRecord(&re, nil), &ev); err != nil || ev.KernelRule != nil {
			t.Errorf("KernelRule = %+v, %v; want none", ev.KernelRule, err)
		}
	})
}

// TestNftKprobeProgramLoads verifies the drop program with the kernel's
// rule read, and the kprobe program on __nft_trace_packet, on this
// kernel: loading needs no kprobe support (attaching does), so the CO-RE
// relocations against nf_tables' types and the verifier are checked here
// too. The VM tests attach both methods for real.
func TestNftKprobeProgramLoads(t *testing.T) {
	requireRoot(t)
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	h, err := newNftHook(kspec, NftKprobe)
	if err != nil {
		t.Skipf("SKIPPED: %v", err)
	}
	t.Logf("__nft_trace_packet: layout %d, nf_tables a module: %v", h.layout, h.module != nil)
	spec := loadDropSpec(t)
	if err := configure(spec, Config{}, kspec, 0); err != nil {
		t.Fatal(err)
	}
	if err := configureNft(spec, h); err != nil {
		t.Fatal(err)
	}
	coll, err := load(spec, kspec, h.relocationTargets(), nil, bpf.DropProgKfreeSkbBtf, h.prog())
	if err != nil {
		t.Fatal(verbose(err))
	}
	coll.Close()
}
