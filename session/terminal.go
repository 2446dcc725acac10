package session

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/droptrace/droptrace/tracer/attach"
)

// ProgressBar redraws one line on a terminal while probes attach.
func ProgressBar(w io.Writer) attach.Progress {
	last := time.Time{}
	return func(done, total int) {
		if done < total && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		width := 30
		fill := width * done / max(total, 1)
		fmt.Fprintf(w, "\rdroptrace: attaching [%s%s] %d/%d", strings.Repeat("#", fill), strings.Repeat(".", width-fill), done, total)
		if done == total {
			fmt.Fprint(w, "\r\x1b[K")
		}
	}
}

// IsTerminal says whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// WithDuration ends ctx after d, when d is set (--duration).
func WithDuration(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// ReleaseLoadMemory gives back to the system what loading needed and
// running does not (the kernel's BTF, the BPF object), so a monitor left
// running for days holds only its steady-state memory. The BTF mapping is
// unmapped by a cleanup that runs after a collection, hence two rounds.
func ReleaseLoadMemory() {
	debug.FreeOSMemory()
	time.Sleep(10 * time.Millisecond)
	debug.FreeOSMemory()
}
