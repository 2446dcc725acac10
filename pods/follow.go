package pods

import (
	"context"
	"fmt"
)

// follower receives a pod's namespace inode each time it changes.
type follower struct {
	ref  string
	last uint32
	ch   chan uint32
}

// Resolve returns the namespace inode of pod ref ("NAMESPACE/NAME"),
// rebuilding the snapshot once when the pod is not in it.
func (r *Resolver) Resolve(ctx context.Context, ref string) (uint32, error) {
	if _, _, err := ParsePodRef(ref); err != nil {
		return 0, err
	}
	if ino, ok := r.snap.Load().pods[ref]; ok {
		return ino, nil
	}
	r.refresh(ctx)
	if ino, ok := r.snap.Load().pods[ref]; ok {
		return ino, nil
	}
	return 0, fmt.Errorf("--filter-pod %s: %w", ref, ErrPodNotFound)
}

// Follow returns a channel that receives the namespace inode of pod ref
// now, and again each time a rebuild finds it changed: 0 when the pod is
// gone, the new inode when it was recreated under the same name. Only the
// latest value waits in the channel. stop ends the following.
//
// A 0 is no filter value: keep filtering on the last inode (it now
// matches nothing) until the pod is back. The kernel may give the new
// namespace the inode just freed; nothing is sent then, and a filter on
// it already selects the recreated pod.
func (r *Resolver) Follow(ref string) (inodes <-chan uint32, stop func()) {
	f := &follower{ref: ref, ch: make(chan uint32, 1)}
	r.mu.Lock()
	r.followers[f] = struct{}{}
	f.last = r.snap.Load().pods[ref]
	f.ch <- f.last
	r.mu.Unlock()
	return f.ch, func() {
		r.mu.Lock()
		delete(r.followers, f)
		r.mu.Unlock()
	}
}

// notify sends each follower its pod's inode when it changed. It runs
// with r.mu held, so sends to one follower are never concurrent.
func (r *Resolver) notify(s *snapshot) {
	for f := range r.followers {
		ino := s.pods[f.ref]
		if ino == f.last {
			continue
		}
		f.last = ino
		select { // replace a value not yet received
		case <-f.ch:
		default:
		}
		f.ch <- ino
	}
}
