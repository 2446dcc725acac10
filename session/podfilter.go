package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/nsfs"
	"github.com/droptrace/droptrace/pods"
	"github.com/droptrace/droptrace/tracer"
)

// podFilter is --filter-pod: the pod's namespace, held open so that no
// other namespace takes its inode, and followed when the pod is deleted
// and created again under the same name.
type podFilter struct {
	ref    string
	ino    uint32 // the namespace the programs filter on
	held   *nsfs.Held
	inodes <-chan uint32
	stop   func()
	cancel context.CancelFunc // ends run; nil until it starts
	done   chan struct{}

	mu      sync.Mutex
	retired map[uint32]*event.Pod // earlier namespaces of the pod, for summary rows
}

// openPodFilter resolves ref to its pod's namespace through r. A bad
// reference, no CRI runtime or no such pod is the user's to fix.
func openPodFilter(ctx context.Context, r *pods.Resolver, ref string) (*podFilter, error) {
	if _, _, err := pods.ParsePodRef(ref); err != nil {
		return nil, podError("%q is not NAMESPACE/NAME", ref)
	}
	if r == nil || r.CRIEndpoint() == "" {
		return nil, podError("%s: no CRI runtime to ask (none at containerd's or CRI-O's socket; --cri-endpoint names one, and 'none' turns pods off)", ref)
	}
	ino, err := r.Resolve(ctx, ref)
	if errors.Is(err, pods.ErrPodNotFound) {
		return nil, podError("%s: the CRI runtime at %s has no ready pod of that namespace and name with a network namespace of its own", ref, r.CRIEndpoint())
	}
	if err != nil {
		return nil, err
	}
	held, err := holdPod(ref, ino)
	if err != nil {
		return nil, err
	}
	pf := &podFilter{ref: ref, ino: ino, held: held, done: make(chan struct{}), retired: map[uint32]*event.Pod{}}
	pf.inodes, pf.stop = r.Follow(ref)
	return pf, nil
}

func podError(format string, args ...any) error {
	return &filter.Error{Flag: "--filter-pod", Problem: fmt.Sprintf(format, args...)}
}

// holdPod holds namespace ino open, so that while droptrace filters on
// its inode no other namespace takes it.
func holdPod(ref string, ino uint32) (*nsfs.Held, error) {
	path, err := nsfs.NewIndex().Path(ino)
	if err == nil {
		var held *nsfs.Held
		if held, err = nsfs.Hold(path, ino); err == nil {
			return held, nil
		}
	}
	return nil, podError("%s: its network namespace %d is gone: %v", ref, ino, err)
}

// start follows the pod until ctx ends or close: each new namespace
// reloads the drop program with it (recreations are rare). A pod that is
// gone leaves the filter on its old namespace, held, which matches
// nothing.
func (pf *podFilter) start(ctx context.Context, t *tracer.Tracer, stderr io.Writer) {
	if pf == nil {
		return
	}
	ctx, pf.cancel = context.WithCancel(ctx)
	go pf.run(ctx, t, stderr)
}

func (pf *podFilter) run(ctx context.Context, t *tracer.Tracer, stderr io.Writer) {
	defer close(pf.done)
	for {
		var ino uint32
		select {
		case <-ctx.Done():
			return
		case ino = <-pf.inodes:
		}
		switch {
		case ino == pf.ino:
		case ino == 0:
			fmt.Fprintf(stderr, "droptrace: --filter-pod %s: the pod is gone; following it should it be created again\n", pf.ref)
		default:
			pf.retarget(t, ino, stderr)
		}
	}
}

func (pf *podFilter) retarget(t *tracer.Tracer, ino uint32, stderr io.Writer) {
	held, err := holdPod(pf.ref, ino)
	if err != nil {
		fmt.Fprintf(stderr, "droptrace: --filter-pod: %v; still filtering on netns %d\n", err, pf.ino)
		return
	}
	start := time.Now()
	if err := t.RetargetNetns(ino); err != nil {
		held.Close()
		if !errors.Is(err, tracer.ErrDetached) {
			fmt.Fprintf(stderr, "droptrace: --filter-pod %s: %v; still filtering on netns %d\n", pf.ref, err, pf.ino)
		}
		return
	}
	fmt.Fprintf(stderr, "droptrace: --filter-pod %s: the pod was created again, in netns %d (was %d); now filtering on it (reloaded in %v)\n",
		pf.ref, ino, pf.ino, time.Since(start).Round(time.Millisecond))
	ns, name, _ := pods.ParsePodRef(pf.ref)
	pf.mu.Lock()
	pf.retired[pf.ino] = &event.Pod{Namespace: ns, Name: name}
	pf.mu.Unlock()
	pf.held.Close()
	pf.held, pf.ino = held, ino
}

// close stops following and, once no retarget is under way, lets the
// namespace go.
func (pf *podFilter) close() {
	if pf == nil {
		return
	}
	pf.stop()
	if pf.cancel != nil {
		pf.cancel()
		<-pf.done
	}
	pf.held.Close()
}

// summary names the rows of the pod's earlier namespaces, which the
// runtime no longer lists: their counts stay in the kernel's map, and in
// the totals, after the pod moved to a new namespace.
func (pf *podFilter) summary(next event.SummaryWriter) event.SummaryWriter {
	if pf == nil {
		return next
	}
	return retiredNames{pf, next}
}

type retiredNames struct {
	pf   *podFilter
	next event.SummaryWriter
}

func (w retiredNames) name(rows []event.SummaryRow) []event.SummaryRow {
	w.pf.mu.Lock()
	defer w.pf.mu.Unlock()
	for i := range rows {
		if p, ok := w.pf.retired[rows[i].Key.Netns]; ok && rows[i].Pod == nil {
			rows[i].Pod = p
		}
	}
	return rows
}

func (w retiredNames) WriteInterval(at time.Time, rows []event.SummaryRow) error {
	return w.next.WriteInterval(at, w.name(rows))
}

func (w retiredNames) WriteTotals(at time.Time, elapsed time.Duration, rows []event.SummaryRow) error {
	return w.next.WriteTotals(at, elapsed, w.name(rows))
}
