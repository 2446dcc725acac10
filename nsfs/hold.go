package nsfs

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Held is a network namespace held open. The kernel frees a namespace's
// inode number only when the namespace itself goes, so while it is held
// no new namespace can take its inode, which is the id a filter matches.
type Held struct {
	f    *os.File
	ino  uint32
	path string

	once sync.Once
	stop chan struct{}
}

// Hold opens the namespace file at path and checks that it is still the
// namespace ino, which the caller resolved from it.
func Hold(path string, ino uint32) (*Held, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Ino != uint64(ino) {
		f.Close()
		return nil, fmt.Errorf("%s is no longer network namespace %d: %w", path, ino, ErrNetnsNotFound)
	}
	return &Held{f: f, ino: ino, path: path, stop: make(chan struct{})}, nil
}

// Path returns the file the namespace was opened from.
func (h *Held) Path() string { return h.path }

// Watch calls gone once, from its own goroutine, when the file the
// namespace was opened from no longer opens it ('ip netns del', the
// process exited), checking every interval until Close.
func (h *Held) Watch(interval time.Duration, gone func()) {
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
			var st unix.Stat_t
			if unix.Stat(h.path, &st) != nil || st.Ino != uint64(h.ino) {
				gone()
				return
			}
		}
	}()
}

// HasLink says whether the held namespace has an interface named name.
func (h *Held) HasLink(name string) (bool, error) {
	return hasLink(int(h.f.Fd()), name)
}

// Close stops watching and lets the namespace go.
func (h *Held) Close() error {
	if h == nil {
		return nil
	}
	h.once.Do(func() { close(h.stop) })
	return h.f.Close()
}

// LinkAnywhere says whether any network namespace reachable from
// /run/netns and /proc has an interface named name.
func LinkAnywhere(name string) (bool, error) {
	var firstErr error
	for _, path := range Scan("/run/netns", "/proc") {
		ok, err := linkAt(path, name)
		if ok {
			return true, nil
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return false, firstErr
}

func linkAt(path, name string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, nil // gone since the scan: nothing to find there
	}
	defer f.Close()
	return hasLink(int(f.Fd()), name)
}

func hasLink(fd int, name string) (bool, error) {
	h, err := netlink.NewHandleAt(netns.NsHandle(fd))
	if err != nil {
		return false, fmt.Errorf("opening netlink in a network namespace: %w", err)
	}
	defer h.Close()
	_, err = h.LinkByName(name)
	if _, ok := err.(netlink.LinkNotFoundError); ok {
		return false, nil
	}
	return err == nil, err
}
