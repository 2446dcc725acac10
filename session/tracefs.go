package session

import (
	"fmt"
	"io"

	"github.com/droptrace/droptrace/kernel"
)

// announceTracefs says that droptrace mounted tracefs, and that it will
// unmount it: droptrace does not change the system's mounts for good.
func announceTracefs(w io.Writer) {
	if kernel.MountedTracefs() {
		fmt.Fprintf(w, "droptrace: mounted tracefs on %s for the classic tracepoints; it is unmounted at exit\n", kernel.TracefsPath)
	}
}

// ReleaseTracefs unmounts the tracefs droptrace mounted, after the
// tracer is closed, and says so.
func ReleaseTracefs(w io.Writer) {
	if !kernel.MountedTracefs() {
		return
	}
	if err := kernel.UnmountTracefs(); err != nil {
		fmt.Fprintf(w, "droptrace: %v\n", err)
		return
	}
	fmt.Fprintf(w, "droptrace: unmounted the tracefs it mounted on %s\n", kernel.TracefsPath)
}
