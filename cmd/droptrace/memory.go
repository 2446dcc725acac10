package main

import (
	"runtime/debug"
	"time"
)

// releaseLoadMemory gives back to the system what loading needed and
// running does not (the kernel's BTF, the BPF object), so a monitor left
// running for days holds only its steady-state memory. The BTF mapping is
// unmapped by a cleanup that runs after a collection, hence two rounds.
func releaseLoadMemory() {
	debug.FreeOSMemory()
	time.Sleep(10 * time.Millisecond)
	debug.FreeOSMemory()
}
