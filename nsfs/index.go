package nsfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNetnsNotFound means no file that opens the network namespace was
// found: it is gone, or only a process in another mount namespace has it.
var ErrNetnsNotFound = errors.New("network namespace not found")

// Index maps network namespace inodes, the ids events carry, to a
// file that opens the namespace: a name under /run/netns, else a
// process's /proc/PID/ns/net. It scans once, then again when asked for an
// inode it does not know, at most once per MinRescan.
type Index struct {
	MinRescan time.Duration
	scan      func() map[uint32]string
	now       func() time.Time

	mu      sync.Mutex
	paths   map[uint32]string
	scanned time.Time
}

// NewIndex returns an index over /run/netns and /proc.
func NewIndex() *Index {
	return &Index{
		MinRescan: time.Second,
		scan:      func() map[uint32]string { return Scan("/run/netns", "/proc") },
		now:       time.Now,
	}
}

// Path returns a file that opens the namespace ino, scanning again when
// ino is unknown and the last scan is older than MinRescan.
func (x *Index) Path(ino uint32) (string, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if p, ok := x.paths[ino]; ok {
		return p, nil
	}
	if x.paths != nil && x.now().Sub(x.scanned) < x.MinRescan {
		return "", fmt.Errorf("netns %d: %w", ino, ErrNetnsNotFound)
	}
	x.paths = x.scan()
	x.scanned = x.now()
	if p, ok := x.paths[ino]; ok {
		return p, nil
	}
	return "", fmt.Errorf("netns %d: %w", ino, ErrNetnsNotFound)
}

// Forget drops what the index knows of ino, because its file turned out
// to open another namespace (a process exited, a name was reused).
func (x *Index) Forget(ino uint32) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.paths, ino)
}

// Scan lists the network namespaces reachable from runDir (ip netns
// names) and procDir (every process's ns/net), by inode. The first file
// found for an inode wins, so names are preferred to processes.
func Scan(runDir, procDir string) map[uint32]string {
	paths := map[uint32]string{}
	if names, err := os.ReadDir(runDir); err == nil {
		for _, e := range names {
			addNetns(paths, filepath.Join(runDir, e.Name()))
		}
	}
	pids, _ := filepath.Glob(filepath.Join(procDir, "[0-9]*", "ns", "net"))
	for _, p := range pids {
		addNetns(paths, p)
	}
	return paths
}

func addNetns(paths map[uint32]string, path string) {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil || st.Ino == 0 || st.Ino > 1<<32-1 {
		return
	}
	if _, ok := paths[uint32(st.Ino)]; !ok {
		paths[uint32(st.Ino)] = path
	}
}
