package explain

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// owners finds the processes holding the sockets with the given inodes,
// by reading the /proc/PID/fd links ("socket:[INODE]"), and returns
// "PID (COMMAND)" per inode. It reads at most maxFDs links, so a host with
// very many open files gets a partial answer rather than a slow one;
// truncated says so.
func owners(procDir string, inodes []uint32, maxFDs int) (found map[uint32]string, truncated bool) {
	want := map[string]uint32{}
	for _, ino := range inodes {
		want["socket:["+strconv.FormatUint(uint64(ino), 10)+"]"] = ino
	}
	found = map[uint32]string{}
	pids, _ := filepath.Glob(filepath.Join(procDir, "[0-9]*"))
	read := 0
	for _, pid := range pids {
		fds, err := os.ReadDir(filepath.Join(pid, "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if read++; read > maxFDs {
				return found, true
			}
			link, err := os.Readlink(filepath.Join(pid, "fd", fd.Name()))
			if ino, ok := want[link]; err == nil && ok {
				if _, seen := found[ino]; !seen {
					found[ino] = filepath.Base(pid) + " (" + command(pid) + ")"
				}
			}
		}
		if len(found) == len(want) {
			return found, false
		}
	}
	return found, false
}

func command(pidDir string) string {
	b, err := os.ReadFile(filepath.Join(pidDir, "comm"))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
