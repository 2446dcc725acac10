package kernel

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// TracefsPath is where droptrace expects tracefs; it mounts it there
// when it is missing, since classic tracepoints cannot attach without it.
const TracefsPath = "/sys/kernel/tracing"

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
	return true, nil
}
