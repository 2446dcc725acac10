package pods

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxProcs bounds one scan of /proc.
const maxProcs = 1 << 17

// Paths are where the system's state is read; tests point them elsewhere.
type Paths struct {
	Proc     string // "/proc"
	RunNetns string // 'ip netns' names: "/run/netns"
	// Podman and CRI-O (containers/storage): the containers' names, and
	// the pidfile of each running one.
	Storage    string // "/var/lib/containers/storage"
	StorageRun string // "/run/containers/storage"
	Docker     string // "/var/lib/docker"
}

// DefaultPaths are the usual places, as seen from the host or from a
// container with hostPID and these directories mounted at the same path.
var DefaultPaths = Paths{
	Proc: "/proc", RunNetns: "/run/netns",
	Storage: "/var/lib/containers/storage", StorageRun: "/run/containers/storage",
	Docker: "/var/lib/docker",
}

// netnsInode is the inode of the namespace file path opens, 0 when it
// cannot be read.
func netnsInode(path string) uint32 {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil || st.Ino > 1<<32-1 {
		return 0
	}
	return uint32(st.Ino)
}

// ipNetnsNames maps the namespaces of /run/netns to their names.
func ipNetnsNames(dir string) map[uint32]string {
	out := map[uint32]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if ino := netnsInode(filepath.Join(dir, e.Name())); ino != 0 {
			if _, ok := out[ino]; !ok {
				out[ino] = e.Name()
			}
		}
	}
	return out
}

// procNetns maps every namespace a process is in to its lowest pid
// (likely the container's first process), reading /proc/PID/ns/net links.
func procNetns(proc string) map[uint32]int {
	out := map[uint32]int{}
	d, err := os.Open(proc)
	if err != nil {
		return out
	}
	defer d.Close()
	names, _ := d.Readdirnames(maxProcs)
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		ino := linkInode(filepath.Join(proc, name, "ns", "net"))
		if ino == 0 {
			continue
		}
		if old, ok := out[ino]; !ok || pid < old {
			out[ino] = pid
		}
	}
	return out
}

// linkInode reads a "net:[4026531840]" link without stat-ing through it.
func linkInode(path string) uint32 {
	l, err := os.Readlink(path)
	if err != nil || !strings.HasPrefix(l, "net:[") || !strings.HasSuffix(l, "]") {
		return 0
	}
	n, err := strconv.ParseUint(l[len("net:["):len(l)-1], 10, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}

// cgroupPath is the process's cgroup v2 path, else its name=systemd or
// first v1 path; "" when unreadable.
func cgroupPath(proc string, pid int) string {
	f, err := os.Open(filepath.Join(proc, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return ""
	}
	defer f.Close()
	var v1 string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		switch {
		case len(parts) != 3:
		case parts[0] == "0" && parts[1] == "":
			return parts[2]
		case v1 == "" || parts[1] == "name=systemd":
			v1 = parts[2]
		}
	}
	return v1
}

// storageContainer is an entry of containers/storage's containers.json.
type storageContainer struct {
	ID    string   `json:"id"`
	Names []string `json:"names"`
}

// storageContainers maps the pid of each running podman (or CRI-O)
// container to its name, from containers/storage's files: the same files
// podman reads, without running podman.
func storageContainers(p Paths) map[int]string {
	out := map[int]string{}
	data, err := os.ReadFile(filepath.Join(p.Storage, "overlay-containers", "containers.json"))
	if err != nil {
		return out
	}
	var ctrs []storageContainer
	if json.Unmarshal(data, &ctrs) != nil {
		return out
	}
	for _, c := range ctrs {
		if len(c.Names) == 0 || strings.ContainsAny(c.ID, "/.") {
			continue
		}
		pid := readPid(filepath.Join(p.StorageRun, "overlay-containers", c.ID, "userdata", "pidfile"))
		if pid > 0 {
			out[pid] = c.Names[0]
		}
	}
	return out
}

// dockerContainers maps the pid of each running docker container to its
// name, from docker's config.v2.json files.
func dockerContainers(dir string) map[int]string {
	out := map[int]string{}
	files, _ := filepath.Glob(filepath.Join(dir, "containers", "*", "config.v2.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var c struct {
			Name  string
			State struct{ Pid int }
		}
		if json.Unmarshal(data, &c) == nil && c.State.Pid > 0 {
			out[c.State.Pid] = strings.TrimPrefix(c.Name, "/")
		}
	}
	return out
}

func readPid(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0
	}
	return pid
}
