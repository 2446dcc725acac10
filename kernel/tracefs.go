package kernel

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// TracefsPath is where droptrace expects tracefs; it mounts it there
// when it is missing, since classic tracepoints cannot attach without it,
// and unmounts it at exit (UnmountTracefs).
const TracefsPath = "/sys/kernel/tracing"

// tracefs records whether this process mounted tracefs: the mount is
// system-wide state, so the record is process-wide too.
var tracefs struct {
	sync.Mutex
	mounted bool
}

// EnsureTracefs makes sure tracefs is mounted at TracefsPath and reports
// whether it had to mount it.
func EnsureTracefs() (mounted bool, err error) {
	if _, err := os.Stat(TracefsPath + "/events"); err == nil {
		return false, nil
	}
	if err := unix.Mount("nodev", TracefsPath, "tracefs", 0, ""); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return false, nil
		}
		return false, fmt.Errorf("mounting tracefs on %s: %w", TracefsPath, err)
	}
	tracefs.Lock()
	tracefs.mounted = true
	tracefs.Unlock()
	return true, nil
}

// MountedTracefs says whether this process mounted tracefs and has not
// unmounted it yet.
func MountedTracefs() bool {
	tracefs.Lock()
	defer tracefs.Unlock()
	return tracefs.mounted
}

// UnmountTracefs unmounts the tracefs this process mounted, once the
// tracepoints attached through it are closed; it does nothing when
// droptrace did not mount it. A mount still busy (a shell cd'ed into
// it) is detached lazily: it goes when its last user does.
func UnmountTracefs() error {
	tracefs.Lock()
	defer tracefs.Unlock()
	if !tracefs.mounted {
		return nil
	}
	err := unix.Unmount(TracefsPath, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(TracefsPath, unix.MNT_DETACH)
	}
	if err != nil {
		return fmt.Errorf("unmounting tracefs from %s: %w", TracefsPath, err)
	}
	tracefs.mounted = false
	return nil
}
