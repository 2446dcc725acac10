package kernel

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"
)

const (
	btfDir       = "/sys/kernel/btf"
	reasonPrefix = "SKB_DROP_REASON_"

	// defaultSubsysShift is SKB_DROP_REASON_SUBSYS_SHIFT. The kernel makes it
	// a #define, so BTF normally cannot tell us; it has been 16 since
	// subsystem reasons appeared in 6.6.
	defaultSubsysShift = 16
)

// DropReasons maps skb drop reason codes to names, read from the kernel's BTF.
//
// Core reasons come from enum skb_drop_reason (Linux 5.17+). Since 6.6 a code
// may carry a subsystem in its high bits; those reasons are named by the
// subsystem's own enum, found in vmlinux or module BTF.
type DropReasons struct {
	supported bool
	shift     uint
	names     map[uint32]string // code -> name as shown to the user
	codes     map[string]uint32 // upper-case name -> code
	subsys    map[uint32]string // subsystem id -> "SUBSYS_<NAME>"
	sorted    []string          // names ordered by code
}

// LoadDropReasons reads drop reasons from /sys/kernel/btf/vmlinux and from
// the BTF of every loaded module, because subsystem reasons (openvswitch,
// mac80211) are defined in modules.
func LoadDropReasons() (*DropReasons, error) {
	base, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("loading kernel btf: %w", err)
	}
	return DropReasonsFrom(base)
}

// DropReasonsFrom is LoadDropReasons with vmlinux's BTF already loaded:
// path tracing reads the same spec, whose types are then decoded once.
func DropReasonsFrom(base *btf.Spec) (*DropReasons, error) {
	return NewDropReasons(base, loadModuleSpecs(base)...)
}

// loadModuleSpecs loads the split BTF of every loaded module. A module whose
// BTF cannot be read is skipped: it may have been unloaded since the
// directory was listed, and its reasons are not worth failing the run for.
func loadModuleSpecs(base *btf.Spec) []*btf.Spec {
	entries, err := os.ReadDir(btfDir)
	if err != nil {
		return nil
	}
	var specs []*btf.Spec
	for _, e := range entries {
		if e.Name() == "vmlinux" {
			continue
		}
		spec, err := btf.LoadSplitSpec(filepath.Join(btfDir, e.Name()), base)
		if err != nil {
			continue
		}
		specs = append(specs, spec)
	}
	return specs
}

// NewDropReasons reads drop reasons from base (vmlinux BTF) and modules.
// A base without enum skb_drop_reason is not an error: the result reports
// Supported() == false, because kernels before 5.17 simply have no reasons.
func NewDropReasons(base *btf.Spec, modules ...*btf.Spec) (*DropReasons, error) {
	if base == nil {
		return nil, errors.New("reading drop reasons: no base btf")
	}
	r := &DropReasons{
		shift:  defaultSubsysShift,
		names:  make(map[uint32]string),
		codes:  make(map[string]uint32),
		subsys: make(map[uint32]string),
	}
	core, err := findEnum(base, "skb_drop_reason")
	if errors.Is(err, btf.ErrNotFound) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading enum skb_drop_reason: %w", err)
	}
	r.supported = true
	if err := r.load(core, base, modules); err != nil {
		return nil, err
	}
	r.sortNames()
	return r, nil
}

func (r *DropReasons) load(core *btf.Enum, base *btf.Spec, modules []*btf.Spec) error {
	r.shift = shiftFromMask(core, r.shift)
	enums, err := r.subsystemEnums(base, modules)
	if err != nil {
		return err
	}
	// Core reasons go first so that they win any name clash.
	r.addCore(core)
	r.addSubsystemReasons(enums)
	return nil
}

// subsystemEnums learns the subsystems from enum skb_drop_reason_subsys and
// returns every enum that might name their reasons. Scanning all enums costs
// a few hundred milliseconds on vmlinux, so it only happens when the kernel
// has subsystems other than the core.
func (r *DropReasons) subsystemEnums(base *btf.Spec, modules []*btf.Spec) ([]*btf.Enum, error) {
	subsys, err := findEnum(base, "skb_drop_reason_subsys")
	if errors.Is(err, btf.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading enum skb_drop_reason_subsys: %w", err)
	}
	r.addSubsystems(subsys)
	if len(r.subsys) == 0 {
		return nil, nil
	}
	enums, err := allEnums(append([]*btf.Spec{base}, modules...))
	if err != nil {
		return nil, err
	}
	r.shift = shiftFromEnumerator(enums, r.shift)
	return enums, nil
}

// findEnum returns the first enum called name; vmlinux could in theory hold
// several, and the first is as good as any for a kernel-wide enum.
func findEnum(spec *btf.Spec, name string) (*btf.Enum, error) {
	types, err := spec.AnyTypesByName(name)
	if err != nil {
		return nil, err
	}
	for _, typ := range types {
		if e, ok := typ.(*btf.Enum); ok {
			return e, nil
		}
	}
	return nil, fmt.Errorf("enum %s: %w", name, btf.ErrNotFound)
}

func allEnums(specs []*btf.Spec) ([]*btf.Enum, error) {
	var enums []*btf.Enum
	for _, spec := range specs {
		for typ, err := range spec.All() {
			if err != nil {
				return nil, fmt.Errorf("scanning btf for enums: %w", err)
			}
			if e, ok := typ.(*btf.Enum); ok {
				enums = append(enums, e)
			}
		}
	}
	return enums, nil
}

// shiftFromMask derives the subsystem shift from SKB_DROP_REASON_SUBSYS_MASK,
// which (unlike the shift) is an enumerator of skb_drop_reason since 6.6.
func shiftFromMask(core *btf.Enum, fallback uint) uint {
	mask, ok := enumValue(core, reasonPrefix+"SUBSYS_MASK")
	if !ok || mask == 0 || mask > math.MaxUint32 {
		return fallback
	}
	return validShift(uint(bits.TrailingZeros32(uint32(mask))), fallback)
}

// shiftFromEnumerator prefers SKB_DROP_REASON_SUBSYS_SHIFT when some kernel
// does make it an enumerator.
func shiftFromEnumerator(enums []*btf.Enum, fallback uint) uint {
	for _, e := range enums {
		if v, ok := enumValue(e, reasonPrefix+"SUBSYS_SHIFT"); ok {
			return validShift(uint(v), fallback)
		}
	}
	return fallback
}

func validShift(shift, fallback uint) uint {
	if shift == 0 || shift > 31 {
		return fallback
	}
	return shift
}

func enumValue(e *btf.Enum, name string) (uint64, bool) {
	for _, v := range e.Values {
		if v.Name == name {
			return v.Value, true
		}
	}
	return 0, false
}

// addCore adds the core reasons. Sentinels (SKB_DROP_REASON_MAX, "__"
// markers) and masks (SKB_DROP_REASON_SUBSYS_MASK, which does not fit below
// the subsystem bits) are not reasons a packet can be dropped for.
func (r *DropReasons) addCore(core *btf.Enum) {
	for _, v := range core.Values {
		if v.Value >= 1<<r.shift || v.Name == reasonPrefix+"MAX" || strings.HasPrefix(v.Name, "__") {
			continue
		}
		r.add(uint32(v.Value), coreName(v.Name))
	}
}

// coreName strips SKB_DROP_REASON_, or SKB_ for SKB_CONSUMED and
// SKB_NOT_DROPPED_YET, which the kernel names without the longer prefix.
func coreName(enumerator string) string {
	if name, ok := strings.CutPrefix(enumerator, reasonPrefix); ok {
		return name
	}
	return strings.TrimPrefix(enumerator, "SKB_")
}

// addSubsystems records the names of subsystems other than the core, so that
// a code of a known subsystem without a known reason still says where it
// came from.
func (r *DropReasons) addSubsystems(subsys *btf.Enum) {
	for _, v := range subsys.Values {
		if v.Value == 0 || v.Value >= 1<<(32-r.shift) || v.Name == reasonPrefix+"SUBSYS_NUM" {
			continue
		}
		r.subsys[uint32(v.Value)] = coreName(v.Name)
	}
}

// addSubsystemReasons names subsystem codes. An enum belongs to subsystem S
// when one of its enumerators is exactly S<<shift, which is how every
// subsystem enum starts its range (__OVS_DROP_REASON, RX_DROP_UNUSABLE), and
// its name says it holds drop reasons: vmlinux has unrelated enums with a
// value of exactly 1<<16 or 2<<16 (inode flags such as I_DONTCACHE, the
// IP6_DEFRAG_* users). Subsystems are visited in order so that the result
// does not depend on map iteration.
func (r *DropReasons) addSubsystemReasons(enums []*btf.Enum) {
	ids := slices.Sorted(maps.Keys(r.subsys))
	for _, id := range ids {
		lo := uint64(id) << r.shift
		hi := lo + 1<<r.shift
		if hi > math.MaxUint32+1 {
			continue
		}
		for _, e := range enums {
			if !strings.Contains(e.Name, "drop_reason") || !hasValue(e, lo) {
				continue
			}
			for _, v := range e.Values {
				if v.Value >= lo && v.Value < hi && !isSentinel(v.Name) {
					r.add(uint32(v.Value), v.Name)
				}
			}
		}
	}
}

// isSentinel reports subsystem enumerators that mark a range rather than
// name a reason: "__OVS_DROP_REASON", "___RX_DROP_UNUSABLE", "OVS_DROP_MAX".
func isSentinel(name string) bool {
	return strings.HasPrefix(name, "__") || strings.HasSuffix(name, "_MAX")
}

func hasValue(e *btf.Enum, value uint64) bool {
	for _, v := range e.Values {
		if v.Value == value {
			return true
		}
	}
	return false
}

// add keeps the first name for a code and the first code for a name.
func (r *DropReasons) add(code uint32, name string) {
	if _, ok := r.names[code]; ok {
		return
	}
	key := strings.ToUpper(name)
	if _, ok := r.codes[key]; ok {
		return
	}
	r.names[code] = name
	r.codes[key] = code
}

func (r *DropReasons) sortNames() {
	codes := slices.Sorted(maps.Keys(r.names))
	r.sorted = make([]string, len(codes))
	for i, code := range codes {
		r.sorted[i] = r.names[code]
	}
}

// Supported reports whether the kernel has drop reasons at all (Linux 5.17+).
func (r *DropReasons) Supported() bool {
	return r.supported
}

// Name returns the name of a drop reason code: "NETFILTER_DROP" for a core
// reason, the enumerator itself ("OVS_DROP_LAST_ACTION") for a subsystem
// reason, "SUBSYS_<NAME>(0x...)" for an unnamed code of a known subsystem and
// "UNKNOWN(0x...)" otherwise.
func (r *DropReasons) Name(code uint32) string {
	if name, ok := r.names[code]; ok {
		return name
	}
	if sub, ok := r.subsys[code>>r.shift]; ok {
		return fmt.Sprintf("%s(0x%x)", sub, code)
	}
	return fmt.Sprintf("UNKNOWN(0x%x)", code)
}

// Code returns the code of a named reason. Case does not matter, and core
// reasons may be given with or without their SKB_DROP_REASON_ prefix.
func (r *DropReasons) Code(name string) (uint32, bool) {
	key := strings.ToUpper(strings.TrimSpace(name))
	for _, k := range []string{key, strings.TrimPrefix(key, reasonPrefix), strings.TrimPrefix(key, "SKB_")} {
		if code, ok := r.codes[k]; ok {
			return code, true
		}
	}
	return 0, false
}

// Names returns every known reason name, ordered by code.
func (r *DropReasons) Names() []string {
	return slices.Clone(r.sorted)
}
