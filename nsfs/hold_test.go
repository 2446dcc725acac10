package nsfs

import (
	"errors"
	"syscall"
	"testing"
)

func TestHold(t *testing.T) {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &st); err != nil {
		t.Skipf("SKIPPED: no /proc/self/ns/net: %v", err)
	}
	h, err := Hold("/proc/self/ns/net", uint32(st.Ino))
	if err != nil {
		t.Fatalf("Hold: %v", err)
	}
	if ok, err := h.HasLink("lo"); !ok || err != nil {
		t.Errorf("HasLink(lo) = %v, %v; every namespace has lo", ok, err)
	}
	if ok, err := h.HasLink("dt-no-such-if"); ok || err != nil {
		t.Errorf("HasLink(dt-no-such-if) = %v, %v", ok, err)
	}
	h.Close()
	if _, err := Hold("/proc/self/ns/net", uint32(st.Ino)+1); !errors.Is(err, ErrNetnsNotFound) {
		t.Errorf("Hold with another inode: %v, want ErrNetnsNotFound", err)
	}
}
