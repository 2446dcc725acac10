package pods

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/droptrace/droptrace/event"
)

// Options configure a Resolver; the zero value finds a CRI runtime at the
// usual sockets and reads the usual paths.
type Options struct {
	// CRIEndpoint is the runtime's socket ("/path" or "unix:///path"):
	// "" tries DefaultCRIEndpoints, "none" names no pods.
	CRIEndpoint string
	// Interval is how often the snapshot is rebuilt (2 s when 0);
	// MinMissRefresh the least time between rebuilds asked for by an
	// unknown namespace (1 s when 0).
	Interval, MinMissRefresh time.Duration
	// Timeout bounds the CRI calls of one rebuild (2 s when 0).
	Timeout time.Duration
	Paths   Paths // DefaultPaths when Proc is ""
}

// Stats counts what the Resolver did; every field only grows.
type Stats struct {
	Refreshes     uint64 // snapshots built
	CRIErrors     uint64 // rebuilds whose CRI calls failed (the last good pods were kept)
	Named         uint64 // events given a name
	Unnamed       uint64 // events in a known namespace with no name
	Misses        uint64 // events in a namespace the snapshot did not know
	MissRefreshes uint64 // rebuilds asked for by a miss
}

// ErrPodNotFound means no ready pod sandbox has that namespace and name.
var ErrPodNotFound = errors.New("pod not found")

// Resolver names network namespaces from a snapshot it keeps current.
// Annotate, AnnotateRows and Lookup are safe for concurrent use and never
// wait on the system.
type Resolver struct {
	opts  Options
	cri   *criClient // nil without a CRI runtime
	snap  atomic.Pointer[snapshot]
	kick  chan struct{}
	stop  context.CancelFunc
	done  chan struct{}
	stats struct{ refreshes, criErrors, named, unnamed, misses, missRefreshes atomic.Uint64 }

	lastKick atomic.Int64 // unix nanoseconds of the last rebuild a miss asked for

	mu        sync.Mutex // one rebuild at a time; guards what rebuilds keep
	keep      keep
	followers map[*follower]struct{}
}

// New connects to the CRI runtime, builds the first snapshot and keeps it
// current until Close. An explicit CRIEndpoint that does not answer is an
// error; without one, a missing runtime only means no pods are named
// (CRIEndpoint says which, if any, was found).
func New(ctx context.Context, opts Options) (*Resolver, error) {
	opts = withDefaults(opts)
	r := &Resolver{opts: opts, kick: make(chan struct{}, 1), done: make(chan struct{}),
		followers: map[*follower]struct{}{}}
	cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	switch opts.CRIEndpoint {
	case "none":
	case "":
		r.cri, _ = findCRI(cctx, DefaultCRIEndpoints)
	default:
		c, err := dialCRI(cctx, opts.CRIEndpoint)
		if err != nil {
			return nil, fmt.Errorf("--cri-endpoint: %w", err)
		}
		r.cri = c
	}
	cost := r.timedRefresh(ctx)
	lctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	go r.loop(lctx, cost)
	return r, nil
}

func withDefaults(o Options) Options {
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.MinMissRefresh <= 0 {
		o.MinMissRefresh = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Paths.Proc == "" {
		o.Paths = DefaultPaths
	}
	return o
}

// CRIEndpoint is the CRI runtime's socket the Resolver reads, "" when
// none was found.
func (r *Resolver) CRIEndpoint() string {
	if r.cri == nil {
		return ""
	}
	return r.cri.endpoint
}

// Close stops the rebuilds and closes the CRI connection.
func (r *Resolver) Close() error {
	r.stop()
	<-r.done
	if r.cri != nil {
		return r.cri.Close()
	}
	return nil
}

// restFactor bounds the CPU the rebuilds use: after a rebuild that used
// d of CPU, none starts for restFactor×d, not even for a miss. A rebuild
// reads every /proc/PID/ns/net link; at about 15 µs a process, a node
// with 10,000 processes spends 150 ms a rebuild, which would be 7% of a
// core every 2 s and is at most 2% this way (0.07% measured with 100
// processes). Waiting on the CRI runtime uses no CPU and does not count.
const restFactor = 50

func (r *Resolver) loop(ctx context.Context, cost time.Duration) {
	defer close(r.done)
	for {
		rest := restFactor * cost
		if !sleep(ctx, rest) {
			return
		}
		t := time.NewTimer(max(r.opts.Interval-rest, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-r.kick:
			t.Stop()
		}
		cost = r.timedRefresh(ctx)
	}
}

// timedRefresh rebuilds the snapshot and returns the CPU time its thread
// used (the wall time where the kernel does not say).
func (r *Resolver) timedRefresh(ctx context.Context) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, before := time.Now(), threadCPU()
	r.refresh(ctx)
	if after := threadCPU(); before >= 0 && after >= before {
		return after - before
	}
	return time.Since(start)
}

// threadCPU is the CPU time the calling thread used, -1 when unknown.
func threadCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sleep waits d, false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Annotate sets ev.Pod to the names of ev's namespace (nil when it has
// none). The Pod is shared between events and must not be modified. A
// namespace the snapshot does not know asks for a rebuild, at most once
// per MinMissRefresh, and the event goes unnamed.
func (r *Resolver) Annotate(ev *event.Event) {
	p, known := r.snap.Load().names[ev.Netns]
	switch {
	case ev.Netns == 0: // the kernel did not say: nothing to name
		r.stats.unnamed.Add(1)
	case !known:
		r.stats.misses.Add(1)
		r.missed()
	case p == nil:
		r.stats.unnamed.Add(1)
	default:
		r.stats.named.Add(1)
	}
	ev.Pod = p
}

// AnnotateRows names each summary row's namespace, as Annotate does.
func (r *Resolver) AnnotateRows(rows []event.SummaryRow) {
	for i := range rows {
		rows[i].Pod = r.Lookup(rows[i].Key.Netns)
	}
}

// Lookup returns the names of namespace netns, nil when it has none or
// is unknown (which asks for a rebuild, as in Annotate).
func (r *Resolver) Lookup(netns uint32) *event.Pod {
	p, known := r.snap.Load().names[netns]
	if !known && netns != 0 {
		r.missed()
	}
	return p
}

func (r *Resolver) missed() {
	now := time.Now().UnixNano()
	last := r.lastKick.Load()
	if now-last < int64(r.opts.MinMissRefresh) || !r.lastKick.CompareAndSwap(last, now) {
		return
	}
	select {
	case r.kick <- struct{}{}:
		r.stats.missRefreshes.Add(1)
	default:
	}
}

// Stats returns the counters so far.
func (r *Resolver) Stats() Stats {
	s := &r.stats
	return Stats{Refreshes: s.refreshes.Load(), CRIErrors: s.criErrors.Load(), Named: s.named.Load(),
		Unnamed: s.unnamed.Load(), Misses: s.misses.Load(), MissRefreshes: s.missRefreshes.Load()}
}

// ParsePodRef splits "NAMESPACE/NAME" as --filter-pod takes it.
func ParsePodRef(ref string) (namespace, name string, err error) {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("--filter-pod %q: want NAMESPACE/NAME", ref)
	}
	return ns, name, nil
}
