package kernel

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ErrNotPrivileged means the process lacks the capabilities to load and
// attach tracing programs.
var ErrNotPrivileged = errors.New("root is needed (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)")

// CheckPrivileges reports ErrNotPrivileged unless the process has
// CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON (5.8+), in its effective set.
func CheckPrivileges() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("reading capabilities: %w", err)
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	if has(unix.CAP_SYS_ADMIN) || (has(unix.CAP_BPF) && has(unix.CAP_PERFMON)) {
		return nil
	}
	return ErrNotPrivileged
}
