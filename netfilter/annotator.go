package netfilter

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/droptrace/droptrace/nsfs"
)

// Config bounds the Annotator's work; DefaultConfig's values are the
// documented ones.
type Config struct {
	Interval       time.Duration // at most one ruleset read per namespace per Interval,
	ReadCost       int           // and per ReadCost times its last read's duration
	ReadsPerSecond int           // ruleset reads, all namespaces together
	Baseline       int           // namespaces read when the Annotator starts,
	BaselineTime   time.Duration // for at most this long
	History        int           // reads kept per namespace
	IdleClose      time.Duration // a namespace unused this long is let go
	MaxNamespaces  int           // namespaces held at once; drops in others are skipped, counted
	// ReplaysPerSecond bounds the replays (with their route look-ups):
	// a flood of distinct flows is annotated up to it, the rest counted.
	ReplaysPerSecond int
}

// DefaultConfig returns the configuration droptrace runs with.
func DefaultConfig() Config {
	return Config{Interval: 100 * time.Millisecond, ReadCost: 10, ReadsPerSecond: 20, Baseline: 32, BaselineTime: 500 * time.Millisecond, History: 4, IdleClose: time.Minute, MaxNamespaces: 256, ReplaysPerSecond: 20000}
}

// Stats counts what the Annotator did with NETFILTER_DROP events.
type Stats struct {
	Exact, Counter, Replayed, Candidates uint64 // events annotated, by certainty
	Unattributed                         uint64 // no rule of the ruleset read can have dropped the packet
	NoHeaders                            uint64 // no IP header or namespace in the event: not looked at
	Reads                                uint64 // ruleset reads
	RouteLookups                         uint64 // output devices asked of the namespace's routes
	ReplaysSkipped                       uint64 // refused by the replay budget: not annotated
	Cached                               uint64 // events of a flow whose attribution, on the same reads, was already made
	ReadsSkipped                         uint64 // reads refused by the budget: the event was replayed on an older read without a counter window, or not annotated when there was none
	Failed                               uint64 // namespace gone or netlink error: not annotated
}

// Annotator attributes NETFILTER_DROP events to firewall rules. It is
// for one goroutine.
type Annotator struct {
	cfg                      Config
	index                    *nsfs.Index
	now                      func() time.Time
	ns                       map[uint32]*nsState
	readTokens, replayTokens float64
	refill                   time.Time
	swept                    time.Time
	stats                    Stats
	split                    splitState // SplitRows' state

	pkt Packet // the packet being attributed: parsed without allocating
}

// nsState is what is kept of one namespace: its reader and its last reads.
type nsState struct {
	reader *Reader
	reads  []*Ruleset // oldest first
	local  map[netip.Addr]bool
	used   time.Time
	flows  map[flowKey]*flowAttribution // attributions of the current reads
	win    *window                      // the last counter window, for the events after it
}

// New returns an Annotator that finds namespaces through index, and reads
// the rulesets of up to cfg.Baseline of them now (for at most
// cfg.BaselineTime), so that their first drops have counters to compare
// with.
func New(index *nsfs.Index, cfg Config) *Annotator {
	a := &Annotator{cfg: cfg, index: index, now: time.Now, ns: map[uint32]*nsState{},
		readTokens: float64(cfg.ReadsPerSecond), replayTokens: float64(cfg.ReplaysPerSecond)}
	a.refill = a.now()
	n, start := 0, a.now()
	for ino := range nsfs.Scan("/run/netns", "/proc") {
		if n >= cfg.Baseline || a.now().Sub(start) > cfg.BaselineTime {
			break
		}
		if a.Prime(ino) == nil {
			n++
		}
	}
	return a
}

// Prime reads the namespace's ruleset now, as a baseline for the counters
// of its next drops.
func (a *Annotator) Prime(netns uint32) error {
	st, err := a.namespace(netns, a.now())
	if err != nil {
		return err
	}
	if st == nil {
		return fmt.Errorf("netns %d: %d namespaces held already", netns, len(a.ns))
	}
	return a.read(st)
}

// Stats returns the counts so far.
func (a *Annotator) Stats() Stats { return a.stats }

// Close lets every namespace go.
func (a *Annotator) Close() error {
	for ino, st := range a.ns {
		st.reader.Close()
		delete(a.ns, ino)
	}
	return nil
}

func (a *Annotator) namespace(ino uint32, now time.Time) (*nsState, error) {
	if st, ok := a.ns[ino]; ok {
		st.used = now
		return st, nil
	}
	if len(a.ns) >= a.cfg.MaxNamespaces {
		return nil, nil
	}
	path, err := a.index.Path(ino)
	if err != nil {
		return nil, err
	}
	r, err := OpenReader(path, ino)
	if err != nil {
		a.index.Forget(ino)
		return nil, err
	}
	st := &nsState{reader: r, used: now, flows: map[flowKey]*flowAttribution{}}
	a.ns[ino] = st
	return st, nil
}

// read reads the namespace's ruleset and addresses, keeping History reads.
func (a *Annotator) read(st *nsState) error {
	rs, err := st.reader.Read()
	if err != nil {
		return err
	}
	a.stats.Reads++
	if local, err := st.reader.LocalAddrs(); err == nil {
		st.local = local
	}
	st.reads = append(st.reads, rs)
	clear(st.flows)
	if len(st.reads) > max(a.cfg.History, 2) {
		st.reads = st.reads[1:]
	}
	return nil
}

// mayRead takes a read from the namespace's and the global budgets. A
// namespace is read again after Interval, or after ReadCost times its
// last read's duration when that is longer: reading a large ruleset costs
// tens of milliseconds (2,000 rules: about 40 ms of CPU), and its reads
// must take no more than a ReadCost-th of the time.
func (a *Annotator) mayRead(st *nsState, now time.Time) bool {
	if n := len(st.reads); n > 0 {
		last := st.reads[n-1]
		if gap := max(a.cfg.Interval, time.Duration(a.cfg.ReadCost)*last.End.Sub(last.Start)); now.Sub(last.Start) < gap {
			return false
		}
	}
	return a.take(&a.readTokens)
}

// take refills both budgets for the time gone by and takes one from
// tokens (&a.readTokens or &a.replayTokens).
func (a *Annotator) take(tokens *float64) bool {
	now := a.now()
	gone := now.Sub(a.refill).Seconds()
	a.refill = now
	a.readTokens = min(float64(a.cfg.ReadsPerSecond), a.readTokens+gone*float64(a.cfg.ReadsPerSecond))
	a.replayTokens = min(float64(a.cfg.ReplaysPerSecond), a.replayTokens+gone*float64(a.cfg.ReplaysPerSecond))
	if *tokens < 1 {
		return false
	}
	*tokens--
	return true
}

func (a *Annotator) sweep(now time.Time) {
	if now.Sub(a.swept) < a.cfg.IdleClose {
		return
	}
	a.swept = now
	for ino, st := range a.ns {
		if now.Sub(st.used) > a.cfg.IdleClose {
			st.reader.Close()
			delete(a.ns, ino)
		}
	}
}
