package attach

import (
	"context"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// RawTracepointCookies says whether the kernel passes an attach cookie
// to raw tracepoint programs (6.10+, commit 68ca5d4eebb8 "bpf: support
// BPF cookie in raw tracepoint (raw_tp, tp_btf) programs"), which added
// the cookie to struct bpf_raw_tp_link.
func RawTracepointCookies(kspec *btf.Spec) bool {
	var st *btf.Struct
	if err := kspec.TypeByName("bpf_raw_tp_link", &st); err != nil {
		return false
	}
	for _, m := range st.Members {
		if m.Name == "cookie" {
			return true
		}
	}
	return false
}

// rawTracepointOpen is the raw_tracepoint member of union bpf_attr as
// 6.10 extended it with the cookie.
type rawTracepointOpen struct {
	name   uint64
	progFd uint32
	_      uint32
	cookie uint64
}

// AttachRawTracepoint attaches a raw_tp program to tracepoint name with
// cookie, which the program reads with bpf_get_attach_cookie (6.10+;
// cilium/ebpf's AttachRawTracepoint has no cookie yet). One loaded
// program serves many tracepoints this way: no verification per target.
// A tp_btf program, whose target is fixed at load, takes name "".
func AttachRawTracepoint(prog *ebpf.Program, name string, cookie uint64) (link.Link, error) {
	attr := rawTracepointOpen{progFd: uint32(prog.FD()), cookie: cookie}
	var cname *byte
	if name != "" {
		var err error
		if cname, err = unix.BytePtrFromString(name); err != nil {
			return nil, err
		}
		attr.name = uint64(uintptr(unsafe.Pointer(cname)))
	}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_RAW_TRACEPOINT_OPEN, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(cname)
	runtime.KeepAlive(prog)
	if errno != 0 {
		return nil, fmt.Errorf("raw tracepoint %s: %w", name, errno)
	}
	l, err := link.NewFromFD(int(fd))
	if err != nil {
		unix.Close(int(fd))
		return nil, fmt.Errorf("raw tracepoint %s: %w", name, err)
	}
	return l, nil
}

// AttachRawTracepoints attaches, in parallel, the program prog gives for
// each target with the cookie cookie gives. A tracepoint the kernel
// refuses is skipped.
func AttachRawTracepoints(ctx context.Context, a *Attachment, prog func(Probe) *ebpf.Program, cookie func(Probe) uint64, targets []Probe, progress Progress) ([]string, error) {
	return attachEach(ctx, targets, progress, func(p Probe) error {
		l, err := AttachRawTracepoint(prog(p), p.Name, cookie(p))
		if err != nil {
			return err
		}
		a.add(l, nil)
		return nil
	})
}
