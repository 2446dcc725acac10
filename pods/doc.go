// Package pods names network namespaces: the Kubernetes pod and
// containers that own one (through the container runtime's CRI API:
// containerd, CRI-O), else its 'ip netns' name, else a plain container's
// name (podman, docker) or the cgroup path of a process in it. It
// annotates events (event.Pod) and resolves "namespace/name" to the
// pod's namespace inode for --filter-pod, following the pod when it is
// recreated.
//
// What it knows is a snapshot rebuilt by one goroutine: every Interval,
// and on a miss at most once per MinMissRefresh, never per event; after
// a rebuild that used d of CPU, none starts for 50×d (at most 2% of a
// core, however many processes the node runs). A
// rebuild is a handful of CRI calls (one list of sandboxes, one of
// containers, one status per new sandbox), a read of /run/netns, of the
// runtimes' state files, and one readlink per process in /proc.
//
// It must not change anything on the system (no runtime calls other than
// lists and status reads, no setns), shell out, or block an event for a
// look-up: Annotate only reads the snapshot.
package pods
