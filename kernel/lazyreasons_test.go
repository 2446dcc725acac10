package kernel

import (
	"testing"

	"github.com/cilium/ebpf/btf"
)

// TestLazyDropReasonsMatchEager checks that the lazy reader names codes
// as the eager one does, whether or not Start was called first.
func TestLazyDropReasonsMatchEager(t *testing.T) {
	base, err := btf.LoadKernelSpec()
	if err != nil {
		t.Skipf("SKIPPED: no kernel BTF: %v", err)
	}
	eager, err := DropReasonsFrom(base)
	if err != nil {
		t.Fatal(err)
	}
	if !eager.Supported() {
		t.Skip("SKIPPED: this kernel has no drop reasons")
	}
	started := NewLazyDropReasons(base, func(err error) { t.Errorf("lazy read failed: %v", err) })
	started.Start()
	unstarted := NewLazyDropReasons(base, func(err error) { t.Errorf("lazy read failed: %v", err) })
	for _, name := range eager.Names() {
		code, ok := eager.Code(name)
		if !ok {
			t.Fatalf("eager reasons cannot find their own name %q", name)
		}
		for _, l := range []*LazyDropReasons{started, unstarted} {
			if got, want := l.Name(code), eager.Name(code); got != want {
				t.Errorf("lazy Name(%#x) = %q, eager %q", code, got, want)
			}
		}
	}
	if got, want := started.Name(0xfffffff0), eager.Name(0xfffffff0); got != want {
		t.Errorf("unknown code: lazy %q, eager %q", got, want)
	}
}
