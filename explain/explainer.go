package explain

import (
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/nsfs"
)

// Config bounds the Explainer's look-ups; DefaultConfig's values are the
// documented ones.
type Config struct {
	Interval  time.Duration // evidence of one key is looked up at most once per Interval, and reused in between
	PerSecond int           // look-ups allowed per second over all keys; beyond, evidence is skipped and counted
	Timeout   time.Duration // netlink receive timeout of each request
	MaxFDs    int           // /proc/PID/fd entries read per search for a socket's owner
	IdleClose time.Duration // a namespace's netlink sockets are closed after this long unused
	// Netfilter, when set, returns the evidence of a NETFILTER_DROP: the
	// rule the netfilter annotator found for ev (ev.Netfilter), or nil.
	// It must not block: the netfilter annotator runs first.
	Netfilter func(ev *event.Event) []event.Evidence
}

// DefaultConfig returns the configuration droptrace runs with.
func DefaultConfig() Config {
	return Config{Interval: time.Second, PerSecond: 20, Timeout: 200 * time.Millisecond, MaxFDs: 20000, IdleClose: time.Minute}
}

// Stats counts what the Explainer did.
type Stats struct {
	Explained uint64 // drops given an explanation
	Lookups   uint64 // evidence look-ups made
	Cached    uint64 // explanations whose evidence came from a look-up of the same key less than Interval before
	Skipped   uint64 // explanations without evidence: the budget per second was spent
	Failed    uint64 // look-ups that failed (namespace gone, netlink error); the explanation has the error as evidence
}

// Explainer explains drops. It is meant for one annotation worker:
// Annotate is not safe for concurrent use, Stats is.
type Explainer struct {
	cfg    Config
	now    func() time.Time
	conns  *conns
	lookup func(probeKind, *event.Event) (finding, error) // the look-ups; replaced in tests

	cache      map[string]cached
	lastSweep  time.Time
	tokens     float64
	lastRefill time.Time

	// Counts, read by Stats from other goroutines.
	explained, lookups, cachedN, skipped, failed atomic.Uint64
}

type cached struct {
	at time.Time
	f  finding
}

// finding is what a look-up found: evidence, and a cause and fix that
// replace the static ones when the evidence says more.
type finding struct {
	evidence   []event.Evidence
	cause, fix string
}

// New returns an Explainer that finds namespaces through netns.
func New(netns *nsfs.Index, cfg Config) *Explainer {
	now := time.Now
	x := &Explainer{
		cfg: cfg, now: now,
		conns: newConns(netns, cfg.Timeout, cfg.IdleClose),
		cache: map[string]cached{}, tokens: float64(cfg.PerSecond), lastRefill: now(),
	}
	x.lookup = x.lookupSystem
	return x
}

// Annotate sets ev.Explain for a drop: the cause and fix of its reason or
// location, and the evidence its look-up found. Other events are left
// alone.
func (x *Explainer) Annotate(ev *event.Event) {
	if ev.Kind != event.KindDrop {
		return
	}
	adv, kind := plan(ev)
	exp := &event.Explain{Cause: adv.cause, Fix: adv.fix, Doc: adv.doc}
	if kind == probeRule && x.cfg.Netfilter != nil {
		exp.Evidence = x.cfg.Netfilter(ev)
	} else if kind != probeNone && kind != probeRule {
		f := x.evidence(kind, ev)
		exp.Evidence = slices.Clone(f.evidence) // cached findings are shared by the drops of a key
		exp.Cause = cmpOr(f.cause, exp.Cause)
		exp.Fix = cmpOr(f.fix, exp.Fix)
	}
	ev.Explain = exp
	x.explained.Add(1)
}

// evidence returns the finding of ev's key: cached when looked up less
// than Interval ago, looked up when the budget allows, else nothing.
func (x *Explainer) evidence(kind probeKind, ev *event.Event) finding {
	now := x.now()
	key := keyOf(kind, ev)
	if c, ok := x.cache[key]; ok && now.Sub(c.at) < x.cfg.Interval {
		x.cachedN.Add(1)
		return c.f
	}
	if !x.take(now) {
		x.skipped.Add(1)
		return finding{evidence: kv("lookup", "skipped: the budget of look-ups per second was spent")}
	}
	f, err := x.lookup(kind, ev)
	x.lookups.Add(1)
	if err != nil {
		x.failed.Add(1)
		f.evidence = append(f.evidence, event.Evidence{Key: "lookup_error", Value: err.Error()})
	}
	x.sweep(now)
	x.cache[key] = cached{at: now, f: f}
	return f
}

// take spends one look-up of the budget, which refills at PerSecond.
func (x *Explainer) take(now time.Time) bool {
	x.tokens += now.Sub(x.lastRefill).Seconds() * float64(x.cfg.PerSecond)
	x.tokens = min(x.tokens, float64(x.cfg.PerSecond))
	x.lastRefill = now
	if x.tokens < 1 {
		return false
	}
	x.tokens--
	return true
}

// sweep forgets cached findings older than Interval, at most once per
// Interval, so that the cache holds only the keys of the last interval.
func (x *Explainer) sweep(now time.Time) {
	if now.Sub(x.lastSweep) < x.cfg.Interval {
		return
	}
	x.lastSweep = now
	for k, c := range x.cache {
		if now.Sub(c.at) >= x.cfg.Interval {
			delete(x.cache, k)
		}
	}
}

// Stats returns the counts so far.
func (x *Explainer) Stats() Stats {
	return Stats{Explained: x.explained.Load(), Lookups: x.lookups.Load(), Cached: x.cachedN.Load(),
		Skipped: x.skipped.Load(), Failed: x.failed.Load()}
}

// Close closes the netlink sockets of every namespace.
func (x *Explainer) Close() { x.conns.closeAll() }

// Static returns the explanation of a reason at a location without
// looking anything up, e.g. for a --summary row.
func Static(reason, location string) *event.Explain {
	adv, _ := plan(&event.Event{Kind: event.KindDrop, Reason: reason, Location: location})
	return &event.Explain{Cause: adv.cause, Fix: adv.fix, Doc: adv.doc}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// plan picks the advice and the look-up of a drop: the well-known site
// of a drop without a reason, else the reason's own.
func plan(ev *event.Event) (advice, probeKind) {
	if ev.Reason == "NOT_SPECIFIED" || ev.Reason == "" {
		if s, ok := siteOf(ev); ok {
			return s.advice, s.probe
		}
	}
	return reasonPlan(ev.Reason), reasonProbe(ev.Reason)
}

func reasonPlan(reason string) advice {
	if reason == "CONSUMED" || reason == "NOT_DROPPED_YET" {
		return notDrop
	}
	if a, ok := reasonAdvice[reason]; ok {
		return a
	}
	desc := Describe(reason)
	switch {
	case reason == "" || reason == "NOT_SPECIFIED":
		return advice{cause: "the kernel gave no reason for this drop", fix: "the location names the function that dropped it"}
	case desc == "":
		return advice{cause: "drop reason " + reason, fix: genericFix}
	case strings.HasPrefix(reason, "TCP_"):
		return advice{cause: "TCP rejected the segment: " + desc,
			fix: "usually stale or foreign state at the sender (an old connection, a middlebox); look at the socket's state"}
	}
	return advice{cause: desc, fix: genericFix}
}
