package kernel

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cilium/ebpf/btf"
)

var update = flag.Bool("update", false, "regenerate golden files in testdata from the running kernel")

const (
	reasonsBTF = "../testdata/btf/reasons.btf"
	liveBTF    = "/sys/kernel/btf/vmlinux"
)

// requireLive skips a test that needs the running kernel when path is
// missing (or root is needed and we are not root), and fails instead when
// CI=true, so that CI cannot pass by skipping.
func requireLive(t *testing.T, path string, root bool) {
	t.Helper()
	var reason string
	if _, err := os.Stat(path); err != nil {
		reason = fmt.Sprintf("%s is not available: %v", path, err)
	} else if root && os.Geteuid() != 0 {
		reason = fmt.Sprintf("reading %s needs root", path)
	} else {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but live kernel test cannot run: %s", reason)
	}
	t.Skipf("SKIPPING LIVE KERNEL TEST: %s", reason)
}

// loadReasonsBTF returns the committed BTF blob, regenerating it first with
// -update.
func loadReasonsBTF(t *testing.T) *btf.Spec {
	t.Helper()
	if *update {
		writeReasonsBTF(t)
	}
	raw, err := os.ReadFile(reasonsBTF)
	if err != nil {
		t.Fatalf("reading golden btf (regenerate with -update): %v", err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parsing %s: %v", reasonsBTF, err)
	}
	return spec
}

// writeReasonsBTF copies the real reason enums from the running kernel and
// adds a synthetic openvswitch enum, so the tests cover subsystem decoding
// without needing the openvswitch module loaded.
func writeReasonsBTF(t *testing.T) {
	t.Helper()
	requireLive(t, liveBTF, false)
	live, err := btf.LoadSpec(liveBTF)
	if err != nil {
		t.Fatal(err)
	}
	core := mustEnum(t, live, "skb_drop_reason")
	subsys := mustEnum(t, live, "skb_drop_reason_subsys")
	ovs := mustValue(t, subsys, "SKB_DROP_REASON_SUBSYS_OPENVSWITCH") << 16
	synthetic := &btf.Enum{Name: "ovs_drop_reason", Size: 4, Values: []btf.EnumValue{
		{Name: "__OVS_DROP_REASON", Value: ovs},
		{Name: "OVS_DROP_LAST_ACTION", Value: ovs + 1},
		{Name: "OVS_DROP_ACTION_ERROR", Value: ovs + 2},
		{Name: "OVS_DROP_MAX", Value: ovs + 3},
	}}
	raw := marshal(t, core, subsys, synthetic)
	if err := os.MkdirAll(filepath.Dir(reasonsBTF), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(reasonsBTF, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func marshal(t *testing.T, types ...btf.Type) []byte {
	t.Helper()
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func specOf(t *testing.T, types ...btf.Type) *btf.Spec {
	t.Helper()
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(marshal(t, types...)))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func mustEnum(t *testing.T, spec *btf.Spec, name string) *btf.Enum {
	t.Helper()
	var e *btf.Enum
	if err := spec.TypeByName(name, &e); err != nil {
		t.Fatalf("enum %s: %v", name, err)
	}
	return e
}

// mustValue reads an enumerator straight from BTF, as an oracle that does not
// go through DropReasons.
func mustValue(t *testing.T, e *btf.Enum, name string) uint64 {
	t.Helper()
	for _, v := range e.Values {
		if v.Name == name {
			return v.Value
		}
	}
	t.Fatalf("enum %s has no %s", e.Name, name)
	return 0
}

func mustReasons(t *testing.T, base *btf.Spec, modules ...*btf.Spec) *DropReasons {
	t.Helper()
	r, err := NewDropReasons(base, modules...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// golden holds the committed blob and the raw values the tests expect.
type golden struct {
	spec                            *btf.Spec
	core, subsys                    *btf.Enum
	netfilter, noSocket, max, mac80 uint32
	ovs                             uint32 // SKB_DROP_REASON_SUBSYS_OPENVSWITCH << 16
}

func loadGolden(t *testing.T) golden {
	t.Helper()
	spec := loadReasonsBTF(t)
	g := golden{spec: spec, core: mustEnum(t, spec, "skb_drop_reason"), subsys: mustEnum(t, spec, "skb_drop_reason_subsys")}
	g.netfilter = uint32(mustValue(t, g.core, "SKB_DROP_REASON_NETFILTER_DROP"))
	g.noSocket = uint32(mustValue(t, g.core, "SKB_DROP_REASON_NO_SOCKET"))
	g.max = uint32(mustValue(t, g.core, "SKB_DROP_REASON_MAX"))
	g.mac80 = uint32(mustValue(t, g.subsys, "SKB_DROP_REASON_SUBSYS_MAC80211_UNUSABLE")) << 16
	g.ovs = uint32(mustValue(t, g.subsys, "SKB_DROP_REASON_SUBSYS_OPENVSWITCH")) << 16
	return g
}

func TestReasonsName(t *testing.T) {
	g := loadGolden(t)
	r := mustReasons(t, g.spec)
	tests := []struct {
		code uint32
		want string
	}{
		{0, "NOT_DROPPED_YET"},
		{1, "CONSUMED"},
		{2, "NOT_SPECIFIED"},
		{g.netfilter, "NETFILTER_DROP"},
		{g.noSocket, "NO_SOCKET"},
		{g.max, fmt.Sprintf("UNKNOWN(0x%x)", g.max)},
		{g.ovs + 1, "OVS_DROP_LAST_ACTION"},
		{g.ovs + 2, "OVS_DROP_ACTION_ERROR"},
		{g.ovs, fmt.Sprintf("SUBSYS_OPENVSWITCH(0x%x)", g.ovs)},
		{g.ovs + 3, fmt.Sprintf("SUBSYS_OPENVSWITCH(0x%x)", g.ovs+3)},
		{g.ovs + 0x77, fmt.Sprintf("SUBSYS_OPENVSWITCH(0x%x)", g.ovs+0x77)},
		{g.mac80 + 5, fmt.Sprintf("SUBSYS_MAC80211_UNUSABLE(0x%x)", g.mac80+5)},
		{0x7fff0001, "UNKNOWN(0x7fff0001)"},
		{0xffff0000, "UNKNOWN(0xffff0000)"},
	}
	for _, tt := range tests {
		if got := r.Name(tt.code); got != tt.want {
			t.Errorf("Name(0x%x) = %q, want %q", tt.code, got, tt.want)
		}
	}
}

func TestReasonsCode(t *testing.T) {
	g := loadGolden(t)
	r := mustReasons(t, g.spec)
	tests := []struct {
		name   string
		want   uint32
		wantOK bool
	}{
		{"NETFILTER_DROP", g.netfilter, true},
		{"netfilter_drop", g.netfilter, true},
		{"SKB_DROP_REASON_NETFILTER_DROP", g.netfilter, true},
		{"skb_drop_reason_no_socket", g.noSocket, true},
		{"CONSUMED", 1, true},
		{"SKB_CONSUMED", 1, true},
		{"SKB_NOT_DROPPED_YET", 0, true},
		{"OVS_DROP_LAST_ACTION", g.ovs + 1, true},
		{"ovs_drop_action_error", g.ovs + 2, true},
		{"MAX", 0, false},
		{"SKB_DROP_REASON_MAX", 0, false},
		{"SUBSYS_MASK", 0, false},
		{"__OVS_DROP_REASON", 0, false},
		{"OVS_DROP_MAX", 0, false},
		{"SUBSYS_OPENVSWITCH", 0, false},
		{"NO_SUCH_REASON", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := r.Code(tt.name)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Code(%q) = 0x%x, %v, want 0x%x, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestReasonsNames(t *testing.T) {
	g := loadGolden(t)
	r := mustReasons(t, g.spec)
	names := r.Names()
	// Every core enumerator except MAX and SUBSYS_MASK, plus the two
	// synthetic openvswitch reasons.
	want := 2
	for _, v := range g.core.Values {
		if v.Name != "SKB_DROP_REASON_MAX" && v.Name != "SKB_DROP_REASON_SUBSYS_MASK" {
			want++
		}
	}
	if got := len(names); got != want {
		t.Errorf("len(Names()) = %d, want %d", got, want)
	}
	var last uint32
	for i, name := range names {
		code, ok := r.Code(name)
		if !ok || r.Name(code) != name {
			t.Errorf("%q does not round-trip: Code = 0x%x, %v; Name = %q", name, code, ok, r.Name(code))
		}
		if i > 0 && code <= last {
			t.Errorf("Names() not ordered by code: %q (0x%x) after 0x%x", name, code, last)
		}
		last = code
	}
	for _, excluded := range []string{"MAX", "SUBSYS_MASK", "__OVS_DROP_REASON", "OVS_DROP_MAX", "SUBSYS_OPENVSWITCH"} {
		if slices.Contains(names, excluded) {
			t.Errorf("Names() contains %q", excluded)
		}
	}
	if got, want := names[len(names)-2:], []string{"OVS_DROP_LAST_ACTION", "OVS_DROP_ACTION_ERROR"}; !slices.Equal(got, want) {
		t.Errorf("last names = %q, want %q", got, want)
	}
}

func TestReasonsModuleEnum(t *testing.T) {
	g := loadGolden(t)
	base := specOf(t, g.core, g.subsys)
	mac80211 := &btf.Enum{Name: "mac80211_drop_reason", Size: 4, Values: []btf.EnumValue{
		{Name: "RX_CONTINUE", Value: 1},
		{Name: "RX_QUEUED", Value: 0},
		{Name: "RX_DROP_UNUSABLE", Value: uint64(g.mac80)},
		{Name: "RX_DROP_U_MIC_FAIL", Value: uint64(g.mac80) + 1},
	}}
	r := mustReasons(t, base, specOf(t, mac80211))
	tests := []struct {
		code uint32
		want string
	}{
		{g.mac80, "RX_DROP_UNUSABLE"},
		{g.mac80 + 1, "RX_DROP_U_MIC_FAIL"},
		{1, "CONSUMED"},
		{0, "NOT_DROPPED_YET"},
		{g.ovs + 1, fmt.Sprintf("SUBSYS_OPENVSWITCH(0x%x)", g.ovs+1)},
	}
	for _, tt := range tests {
		if got := r.Name(tt.code); got != tt.want {
			t.Errorf("Name(0x%x) = %q, want %q", tt.code, got, tt.want)
		}
	}
}

// TestReasonsIgnoresUnrelatedEnums guards against enums that merely contain
// the value S<<16, as inode flags do in vmlinux.
func TestReasonsIgnoresUnrelatedEnums(t *testing.T) {
	g := loadGolden(t)
	decoy := &btf.Enum{Name: "inode_state_bits", Size: 4, Values: []btf.EnumValue{
		{Name: "I_DONTCACHE", Value: uint64(g.mac80)},
		{Name: "I_SYNC_QUEUED", Value: uint64(g.mac80) + 1},
	}}
	r := mustReasons(t, specOf(t, g.core, g.subsys, decoy))
	for _, code := range []uint32{g.mac80, g.mac80 + 1} {
		if got, want := r.Name(code), fmt.Sprintf("SUBSYS_MAC80211_UNUSABLE(0x%x)", code); got != want {
			t.Errorf("Name(0x%x) = %q, want %q", code, got, want)
		}
	}
	if _, ok := r.Code("I_DONTCACHE"); ok {
		t.Error("Code(I_DONTCACHE) found a reason in an unrelated enum")
	}
}

func TestReasonsShiftEnumerator(t *testing.T) {
	g := loadGolden(t)
	shifted := &btf.Enum{Name: "future_drop_reason", Size: 4, Values: []btf.EnumValue{
		{Name: "SKB_DROP_REASON_SUBSYS_SHIFT", Value: 24},
		{Name: "__FUTURE_DROP_REASON", Value: uint64(g.ovs>>16) << 24},
		{Name: "FUTURE_DROP_THING", Value: uint64(g.ovs>>16)<<24 + 1},
	}}
	r := mustReasons(t, specOf(t, g.core, g.subsys), specOf(t, shifted))
	code := g.ovs>>16<<24 + 1
	if got, want := r.Name(code), "FUTURE_DROP_THING"; got != want {
		t.Errorf("Name(0x%x) = %q, want %q", code, got, want)
	}
	if got, want := r.Name(g.ovs+1), fmt.Sprintf("UNKNOWN(0x%x)", g.ovs+1); got != want {
		t.Errorf("Name(0x%x) = %q, want %q", g.ovs+1, got, want)
	}
}

func TestReasonsWithoutSubsystems(t *testing.T) {
	g := loadGolden(t)
	r := mustReasons(t, specOf(t, g.core))
	tests := []struct {
		code uint32
		want string
	}{
		{g.netfilter, "NETFILTER_DROP"},
		{g.ovs + 1, fmt.Sprintf("UNKNOWN(0x%x)", g.ovs+1)},
	}
	for _, tt := range tests {
		if got := r.Name(tt.code); got != tt.want {
			t.Errorf("Name(0x%x) = %q, want %q", tt.code, got, tt.want)
		}
	}
	if !r.Supported() {
		t.Error("Supported() = false with enum skb_drop_reason present")
	}
}

func TestReasonsUnsupported(t *testing.T) {
	r := mustReasons(t, specOf(t, &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}))
	if r.Supported() {
		t.Error("Supported() = true without enum skb_drop_reason")
	}
	if got := r.Names(); len(got) != 0 {
		t.Errorf("Names() = %q, want none", got)
	}
	if got, want := r.Name(2), "UNKNOWN(0x2)"; got != want {
		t.Errorf("Name(2) = %q, want %q", got, want)
	}
	if _, ok := r.Code("NOT_SPECIFIED"); ok {
		t.Error("Code(NOT_SPECIFIED) found without enum skb_drop_reason")
	}
}

func TestReasonsNilBase(t *testing.T) {
	if _, err := NewDropReasons(nil); err == nil {
		t.Error("NewDropReasons(nil) succeeded")
	}
}

func TestReasonsLive(t *testing.T) {
	requireLive(t, liveBTF, false)
	r, err := LoadDropReasons()
	if err != nil {
		t.Fatal(err)
	}
	if !r.Supported() {
		t.Fatal("running kernel has no enum skb_drop_reason")
	}
	for _, name := range []string{"NETFILTER_DROP", "NO_SOCKET"} {
		code, ok := r.Code(name)
		if !ok || r.Name(code) != name {
			t.Errorf("%s: Code = 0x%x, %v; Name = %q", name, code, ok, r.Name(code))
		}
	}
	names := r.Names()
	if got := len(names); got <= 50 {
		t.Errorf("len(Names()) = %d, want > 50", got)
	}
	// I_DONTCACHE is 1<<16 in vmlinux: a decoy for subsystem matching.
	if slices.Contains(names, "I_DONTCACHE") {
		t.Error("Names() contains I_DONTCACHE from an unrelated enum")
	}
}
