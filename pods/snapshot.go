package pods

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/droptrace/droptrace/event"
)

// snapshot is what one rebuild found. It is never modified once stored.
type snapshot struct {
	names map[uint32]*event.Pod // every namespace seen; nil value: seen, no name
	pods  map[string]uint32     // "namespace/name" → the pod's namespace inode
}

// keep is what rebuilds carry from one to the next, so that a rebuild
// asks only about what is new.
type keep struct {
	sandboxNetns map[string]uint32 // sandbox id → namespace inode (0: host network)
	pods         []podNetns        // the last pods the CRI runtime listed
	cgroups      map[uint32]cgroupOf
}

type podNetns struct {
	ino                  uint32
	name, namespace, ctr string
}

type cgroupOf struct {
	pid  int
	path string
}

// refresh builds a snapshot and stores it, then tells the followers.
func (r *Resolver) refresh(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	procs := procNetns(r.opts.Paths.Proc)
	s := &snapshot{names: map[uint32]*event.Pod{}, pods: map[string]uint32{}}
	for ino := range procs {
		s.names[ino] = nil
	}
	// Named first, so that no cgroup path stands in for an 'ip netns' name.
	for ino, name := range ipNetnsNames(r.opts.Paths.RunNetns) {
		podOf(s, ino).NetnsName = name
	}
	hostIno := linkInode(filepath.Join(r.opts.Paths.Proc, "1", "ns", "net"))
	r.addContainers(s, procs, hostIno)
	r.addPods(ctx, s, hostIno)
	r.snap.Store(s)
	r.stats.refreshes.Add(1)
	r.notify(s)
}

// podOf returns s's Pod for ino, adding an empty one; Pods are only
// written while their snapshot is built.
func podOf(s *snapshot, ino uint32) *event.Pod {
	if p := s.names[ino]; p != nil {
		return p
	}
	p := &event.Pod{}
	s.names[ino] = p
	return p
}

// addContainers names namespaces by their plain container's name, else
// (when they have no name yet) by a process's cgroup path; not the
// host's, which is no container.
func (r *Resolver) addContainers(s *snapshot, procs map[uint32]int, hostIno uint32) {
	p := r.opts.Paths
	byPid := storageContainers(p)
	for pid, name := range dockerContainers(p.Docker) {
		byPid[pid] = name
	}
	for pid, name := range byPid {
		if ino := linkInode(fmt.Sprintf("%s/%d/ns/net", p.Proc, pid)); ino != 0 && ino != hostIno {
			podOf(s, ino).Container = name
		}
	}
	cgroups := map[uint32]cgroupOf{}
	for ino, pid := range procs {
		if ino == hostIno || s.names[ino] != nil {
			continue
		}
		cg, ok := r.keep.cgroups[ino]
		if !ok || cg.pid != pid {
			cg = cgroupOf{pid: pid, path: cgroupPath(p.Proc, pid)}
		}
		cgroups[ino] = cg
		if cg.path != "" && cg.path != "/" {
			podOf(s, ino).Container = cg.path
		}
	}
	r.keep.cgroups = cgroups
}

// addPods names the namespaces of the CRI runtime's pods, but not the
// host's (pods on the node's network share it). When the runtime does not
// answer, the pods it listed last are kept.
func (r *Resolver) addPods(ctx context.Context, s *snapshot, hostIno uint32) {
	if r.cri != nil {
		ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
		pods, err := r.listPods(ctx)
		cancel()
		if err != nil {
			r.stats.criErrors.Add(1)
		} else {
			r.keep.pods = pods
		}
	}
	for _, pn := range r.keep.pods {
		if pn.ino == hostIno {
			continue
		}
		p := podOf(s, pn.ino)
		p.Name, p.Namespace, p.Container = pn.name, pn.namespace, pn.ctr
		s.pods[pn.namespace+"/"+pn.name] = pn.ino
	}
}

// listPods asks the CRI runtime for the ready sandboxes, their running
// containers, and the namespace of each sandbox it has not seen before.
func (r *Resolver) listPods(ctx context.Context) ([]podNetns, error) {
	sbs, err := r.cri.sandboxes(ctx)
	if err != nil {
		return nil, err
	}
	ctrs, err := r.cri.containerNames(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]uint32{}
	var out []podNetns
	for _, sb := range sbs {
		ino, ok := r.keep.sandboxNetns[sb.id]
		if !ok {
			if ino, ok = r.sandboxInode(ctx, sb.id); !ok {
				continue // gone since the list, or not started: asked again next time
			}
		}
		seen[sb.id] = ino
		if ino != 0 {
			names := slices.Sorted(slices.Values(ctrs[sb.id]))
			out = append(out, podNetns{ino: ino, name: sb.name, namespace: sb.namespace, ctr: strings.Join(names, ",")})
		}
	}
	r.keep.sandboxNetns = seen
	return out, nil
}

// sandboxInode is the inode of the sandbox's namespace, 0 for a pod on
// the node's network; ok is false when it cannot be known now.
func (r *Resolver) sandboxInode(ctx context.Context, id string) (ino uint32, ok bool) {
	paths, host, err := r.cri.sandboxNetns(ctx, id, r.opts.Paths.Proc)
	if err != nil {
		return 0, false
	}
	if host {
		return 0, true
	}
	for _, p := range paths {
		if ino := netnsInode(p); ino != 0 {
			return ino, true
		}
	}
	return 0, false
}
