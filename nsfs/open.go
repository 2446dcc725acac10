package nsfs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Open opens namespace ino for netlink and setns: a file found through
// the index that is checked to still be that namespace, since a
// /proc/PID file may belong to another process by now. The caller closes
// the returned descriptor.
func (x *Index) Open(ino uint32) (int, error) {
	path, err := x.Path(ino)
	if err != nil {
		return -1, err
	}
	f, err := os.Open(path)
	if err != nil {
		x.Forget(ino)
		return -1, fmt.Errorf("opening netns %d (%s): %w", ino, path, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Ino != uint64(ino) {
		x.Forget(ino)
		return -1, fmt.Errorf("netns %d: %s now opens another namespace: %w", ino, path, ErrNetnsNotFound)
	}
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return -1, fmt.Errorf("netns %d: %w", ino, err)
	}
	unix.CloseOnExec(fd)
	return fd, nil
}
