package tracer

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/filter"
)

// everyFilter gives every filter, so every field of filter_cfg must be set.
var everyFilter = filter.Spec{
	Src:     netip.MustParsePrefix("10.1.2.0/24"),
	Dst:     netip.MustParsePrefix("2001:db8::/33"),
	Port:    8080,
	Proto:   filter.ProtoTCP,
	Netns:   4026531840,
	Ifname:  "veth0",
	Reasons: []uint32{2},
	Exclude: []uint32{3},
	Expr:    "tcp port 80",
}

// TestFilterConfigSetsEveryField fails when bpf/filter.h gains a filter
// that filterConfig does not fill.
func TestFilterConfigSetsEveryField(t *testing.T) {
	v := reflect.ValueOf(filterConfig(everyFilter))
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Name == "_" {
			continue
		}
		if v.Field(i).IsZero() {
			t.Errorf("filter_cfg field %s is not set from a filter.Spec", f.Name)
		}
	}
	if got := filterConfig(filter.Spec{}); got != (bpf.DropFilterCfg{}) {
		t.Errorf("no filters: got %+v, want the zero value the verifier prunes", got)
	}
}

// be32 is the word that holds bytes b in memory, as the program loads it.
func be32(b ...byte) uint32 { return binary.NativeEndian.Uint32(b) }

func TestFilterConfigValues(t *testing.T) {
	c := filterConfig(everyFilter)
	if got, want := c.Port, binary.NativeEndian.Uint16([]byte{0x1f, 0x90}); got != want {
		t.Errorf("port: got %#x, want %#x (8080 in network order)", got, want)
	}
	if c.SrcFamily != 4 || c.SrcAddr != [4]uint32{be32(10, 1, 2, 0)} || c.SrcMask != [4]uint32{be32(255, 255, 255, 0)} {
		t.Errorf("src: got family %d addr %#x mask %#x", c.SrcFamily, c.SrcAddr, c.SrcMask)
	}
	wantAddr := [4]uint32{be32(0x20, 0x01, 0x0d, 0xb8), 0, 0, 0}
	wantMask := [4]uint32{be32(255, 255, 255, 255), be32(0x80, 0, 0, 0), 0, 0}
	if c.DstFamily != 6 || c.DstAddr != wantAddr || c.DstMask != wantMask {
		t.Errorf("dst: got family %d addr %#x mask %#x, want 6 %#x %#x", c.DstFamily, c.DstAddr, c.DstMask, wantAddr, wantMask)
	}
	if got, want := ifnameChars("veth0"), [16]int8{'v', 'e', 't', 'h', '0'}; got != want {
		t.Errorf("ifname: got %v, want %v", got, want)
	}
	if got := ifnameChars("a-name-of-16-chars"); got[15] != 0 {
		t.Errorf("ifname of 16+ chars: got %v, want NUL-terminated", got)
	}
}

// TestConstantsMatchObjects loads every BPF object's spec (no kernel
// needed) and sets the constants the tracer gives it: a name the object
// lacks fails, and so does a volatile const of the object that nothing
// sets, such as a new filter outside struct filter_cfg.
func TestConstantsMatchObjects(t *testing.T) {
	tests := []struct {
		name   string
		load   func() (*ebpf.CollectionSpec, error)
		consts map[string]any
		// setElsewhere are set by the attach code, or by the step
		// rings' stepGeometry.apply (TestStepRing), not the constructor.
		setElsewhere []string
	}{
		{"drop", bpf.LoadDrop, dropConstants(Config{Filter: everyFilter, Snaplen: 64, Summary: true, TCP: true}, 250),
			[]string{bpf.DropVarCfgTpHasReason, bpf.DropVarCfgReplies, bpf.DropVarCfgNft, bpf.DropVarCfgNftLayout}},
		{"trace", bpf.LoadTrace, traceConstants(PathConfig{Filter: everyFilter, Stack: true}, true, true, true),
			[]string{bpf.TraceVarCfgProbeId, bpf.TraceVarCfgRingSlots, bpf.TraceVarCfgSlotSize}},
		{"tcp", bpf.LoadTcp, tcpConstants(everyFilter, 250), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := tt.load()
			if err != nil {
				t.Fatal(err)
			}
			if err := setConstants(spec, tt.consts); err != nil {
				t.Fatal(err)
			}
			for name, v := range spec.Variables {
				_, set := tt.consts[name]
				if v.Constant() && !set && !slices.Contains(tt.setElsewhere, name) {
					t.Errorf("volatile const %s of the %s object is never set", name, tt.name)
				}
			}
			var got bpf.DropFilterCfg
			if err := spec.Variables["filters"].Get(&got); err != nil {
				t.Fatal(err)
			}
			if want := filterConfig(everyFilter); got != want {
				t.Errorf("filters read back: got %+v, want %+v", got, want)
			}
		})
	}
}
