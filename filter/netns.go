package filter

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// netnsRunDir is where `ip netns add` bind-mounts named namespaces.
const netnsRunDir = "/run/netns"

// NetnsInode resolves a --filter-netns argument to the inode number the
// kernel uses as the network namespace's id. The argument is a decimal
// inode, a path to a namespace file such as /proc/PID/ns/net, or a name
// created by `ip netns add`.
func NetnsInode(arg string) (uint32, error) {
	switch {
	case arg == "":
		return 0, errors.New("empty network namespace")
	case isDecimal(arg):
		return parseInode(arg)
	case strings.ContainsRune(arg, '/'):
		return nsfsInode(arg)
	default:
		return namedNetnsInode(arg)
	}
}

func isDecimal(s string) bool {
	return strings.Trim(s, "0123456789") == ""
}

func parseInode(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a namespace inode number (1-%d)", s, uint32(math.MaxUint32))
	}
	return uint32(n), nil
}

func namedNetnsInode(name string) (uint32, error) {
	// "." and ".." would escape netnsRunDir instead of naming a namespace.
	if name == "." || name == ".." {
		return 0, fmt.Errorf("%q is not a network namespace name", name)
	}
	path := filepath.Join(netnsRunDir, name)
	ino, err := nsfsInode(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("no network namespace named %q (see ip netns list)", name)
	}
	return ino, err
}

// nsfsInode stats a namespace file. Checking the file system and the
// namespace type matters because any file has an inode: a typo such as
// /proc/1/ns/mnt would otherwise yield a filter that never matches.
func nsfsInode(path string) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(path, &sfs); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	if sfs.Type != unix.NSFS_MAGIC {
		return 0, fmt.Errorf("%s is not a namespace file", path)
	}
	if err := checkNetType(path); err != nil {
		return 0, err
	}
	if st.Ino == 0 || st.Ino > math.MaxUint32 {
		return 0, fmt.Errorf("%s has inode %d, which is not a namespace id", path, st.Ino)
	}
	return uint32(st.Ino), nil
}

// checkNetType makes sure path is a network namespace, not another kind.
// NS_GET_NSTYPE needs Linux 4.11; on older kernels the check is skipped.
func checkNetType(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer unix.Close(fd)
	typ, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("querying namespace type of %s: %w", path, err)
	}
	if typ != unix.CLONE_NEWNET {
		return fmt.Errorf("%s is not a network namespace", path)
	}
	return nil
}

// NetnsPath returns the file a --filter-netns argument names: the path
// itself, or the file of an 'ip netns' name; "" for an inode number,
// which names no file.
func NetnsPath(arg string) string {
	switch {
	case arg == "" || isDecimal(arg):
		return ""
	case strings.ContainsRune(arg, '/'):
		return arg
	default:
		return filepath.Join(netnsRunDir, arg)
	}
}
