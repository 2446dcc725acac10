package tracer

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/tracer/attach"
)

// These tests check what the tracer sets up before the kernel sees it:
// the constants and sizes in the embedded objects' specs, read without
// loading anything.

func TestConfigureDrop(t *testing.T) {
	spec := loadDropSpec(t)
	cfg := Config{
		Filter:  filter.Spec{Port: 53, Proto: 17, Netns: 4026532000, Ifname: "veth0", Reasons: []uint32{2}, Src: netip.MustParsePrefix("10.0.0.0/8")},
		Snaplen: 128,
		Summary: true,
		TCP:     true,
	}
	if err := configure(spec, cfg, nil, 250); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want any
	}{
		{bpf.DropVarCfgSnaplen, uint32(128)},
		{bpf.DropVarCfgSummary, uint8(1)},
		{bpf.DropVarCfgTcp, uint8(1)},
		{bpf.DropVarCfgHz, uint32(250)},
	}
	for _, tt := range tests {
		if got := variable(t, spec, tt.name, tt.want); got != fmt.Sprint(tt.want) {
			t.Errorf("%s = %s, want %v", tt.name, got, tt.want)
		}
	}
	var f bpf.DropFilterCfg
	if err := spec.Variables[bpf.DropVarFilters].Get(&f); err != nil {
		t.Fatal(err)
	}
	filters := []struct {
		name      string
		got, want any
	}{
		{"netns", f.Netns, uint32(4026532000)},
		{"proto", f.Proto, uint8(17)},
		{"ifname_on", f.IfnameOn, uint8(1)},
		{"reason_on", f.ReasonOn, uint8(1)},
		{"src_family", f.SrcFamily, uint8(4)},
		{"dst_family", f.DstFamily, uint8(0)},
		// The port is compared with the packet's bytes: network order.
		{"port", f.Port, inMemory16([]byte{0, 53})},
	}
	for _, tt := range filters {
		if tt.got != tt.want {
			t.Errorf("filters.%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if got, want := spec.Maps[bpf.DropMapSummary].MaxEntries, uint32(DefaultSummaryKeys); got != want {
		t.Errorf("summary map: %d keys, want %d", got, want)
	}
}

// variable reads a constant of spec into a value of want's type.
func variable(t *testing.T, spec *ebpf.CollectionSpec, name string, want any) string {
	t.Helper()
	vs, ok := spec.Variables[name]
	if !ok {
		t.Fatalf("no variable %s", name)
	}
	switch want.(type) {
	case uint8:
		var v uint8
		if err := vs.Get(&v); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(v)
	case uint16:
		var v uint16
		if err := vs.Get(&v); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(v)
	default:
		var v uint32
		if err := vs.Get(&v); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(v)
	}
}

func TestSetConstantsUnknown(t *testing.T) {
	err := setConstants(loadDropSpec(t), map[string]any{"filter_colour": uint8(1)})
	if err == nil || !strings.Contains(err.Error(), "filter_colour") {
		t.Errorf("err %v, want one naming filter_colour", err)
	}
	err = setConstants(loadDropSpec(t), map[string]any{bpf.DropVarCfgSnaplen: uint64(1)})
	if err == nil || !strings.Contains(err.Error(), bpf.DropVarCfgSnaplen) {
		t.Errorf("err %v, want one naming %s", err, bpf.DropVarCfgSnaplen)
	}
}

func TestOpenRejectsSnaplen(t *testing.T) {
	for _, n := range []int{-1, MaxSnaplen + 1, 1 << 16} {
		if _, err := Open(Config{Snaplen: n}); err == nil || !strings.Contains(err.Error(), "snaplen") {
			t.Errorf("Open with snaplen %d: err %v, want a snaplen error", n, err)
		}
	}
	// The C side bounds each copy by the same number.
	if got, want := MaxSnaplen, len(bpf.DropEventBuf{}.Data); got != want {
		t.Errorf("MaxSnaplen %d, the programs' buffer %d", got, want)
	}
}

func TestRingSize(t *testing.T) {
	tests := []struct {
		cpus int
		want uint32
	}{
		{1, ringMaxSize}, {2, ringMaxSize}, {3, 8 << 20}, {4, 8 << 20}, {5, 4 << 20}, {8, 4 << 20},
		{16, 2 << 20}, {32, ringMinSize}, {64, ringMinSize}, {511, ringMinSize},
		{512, ringMinSize}, {1024, ringMinSize}, {4096, ringMinSize}, // sizes times CPUs beyond 32 bits
	}
	for _, tt := range tests {
		got := ringSize(tt.cpus)
		if got != tt.want {
			t.Errorf("ringSize(%d) = %d, want %d", tt.cpus, got, tt.want)
		}
		if got&(got-1) != 0 {
			t.Errorf("ringSize(%d) = %d, not a power of two", tt.cpus, got)
		}
	}
}

// TestProgramNames checks that the programs the tracers load by name are
// in the embedded objects.
func TestProgramNames(t *testing.T) {
	trace, err := bpf.LoadTrace()
	if err != nil {
		t.Fatal(err)
	}
	targets := []attach.Probe{{Name: "netif_receive_skb", Pos: 1}, {Name: "net_dev_xmit", Pos: 1}, {Name: "tcp_send_reset", Pos: 2}, {Name: "unknown", Pos: 5}}
	for _, b := range []attach.Backend{attach.BackendKprobe, attach.BackendKprobeMulti, attach.BackendFentry, attach.BackendTracepoint} {
		for _, cookies := range []bool{false, true} {
			p := &PathTracer{backend: b, tpCookies: cookies}
			progs := append(p.baseProgs(), p.tracepointProgs(targets)...)
			if !slices.Contains(progs, bpf.TraceProgTpKfreeSkb) || !slices.Contains(progs, bpf.TraceProgTpConsumeSkb) {
				t.Errorf("%s: %v lack the path's ends", b, progs)
			}
			for _, name := range progs {
				if trace.Programs[name] == nil {
					t.Errorf("%s: no program %s in the trace object", b, name)
				}
			}
			if n, want := len(progs), 2+map[bool]int{true: 4}[cookies]; b == attach.BackendFentry && n != want {
				t.Errorf("fentry backend, cookies %v: %d shared programs %v, want %d", cookies, n, progs, want)
			}
		}
	}
	kprobe := &PathTracer{backend: attach.BackendKprobe}
	if got := kprobe.baseProgs(); len(got) != 4 {
		t.Errorf("kprobe backend: programs %v, want the two ends, start and follow (the cookie gives the position)", got)
	}
	for _, name := range kprobe.baseProgs() {
		if ps := kprobe.programSpec(trace, name); ps.AttachType == ebpf.AttachTraceKprobeMulti {
			t.Errorf("kprobe backend: %s keeps attach type %s", name, ps.AttachType)
		}
	}
	multi := &PathTracer{backend: attach.BackendKprobeMulti}
	if got := multi.baseProgs(); len(got) != 4 {
		t.Errorf("kprobe-multi backend: programs %v, want the two ends, start and follow (the cookie gives the position)", got)
	}
	// Every role's per-target programs exist, for every position.
	for pos := 1; pos <= attach.MaxSkbParam; pos++ {
		for _, r := range []attach.Role{attach.RoleFollow, attach.RoleStart, attach.RoleGone} {
			if name := roleProg("fentry", r, pos); trace.Programs[name] == nil {
				t.Errorf("no program %s in the trace object", name)
			}
		}
		for _, cookies := range []bool{false, true} {
			p := &PathTracer{tpCookies: cookies}
			for _, tp := range []string{"netif_receive_skb", "net_dev_xmit", "unknown"} {
				if name := p.tracepointProg(attach.Probe{Name: tp, Pos: pos}); trace.Programs[name] == nil {
					t.Errorf("no program %s in the trace object", name)
				}
			}
		}
	}
	tcp, err := bpf.LoadTcp()
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range tcpTracepoints {
		for _, name := range []string{tp.btfProg, tp.tpProg} {
			if tcp.Programs[name] == nil {
				t.Errorf("%s: no program %s in the tcp object", tp.name, name)
			}
		}
	}
	drop := loadDropSpec(t)
	for _, name := range []string{bpf.DropProgKfreeSkbBtf, bpf.DropProgKfreeSkbTp} {
		if drop.Programs[name] == nil {
			t.Errorf("no program %s in the drop object", name)
		}
	}
}

func TestExplainPermission(t *testing.T) {
	err := explainPermission(fmt.Errorf("loading kfree_skb_btf: %w", os.ErrPermission))
	if !errors.Is(err, os.ErrPermission) || !strings.HasPrefix(err.Error(), "root is needed") {
		t.Errorf("EPERM: %v", err)
	}
	other := errors.New("map create: invalid argument")
	if got := explainPermission(other); got != other {
		t.Errorf("other errors: got %v, want it unchanged", got)
	}
	if got := verbose(other); got != other.Error() {
		t.Errorf("verbose = %q", got)
	}
	if boolByte(true) != 1 || boolByte(false) != 0 {
		t.Errorf("boolByte")
	}
}
