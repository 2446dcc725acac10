package metrics

import (
	"cmp"
	"fmt"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/droptrace/droptrace/event"
)

var (
	dropsDesc = prometheus.NewDesc("droptrace_drops_total",
		"Dropped packets that matched the filters, by drop reason, kernel location, network namespace inode, interface, IP protocol, the pod of the namespace (\"\" when none), and the firewall rule of a NETFILTER_DROP (table/chain/handle, \"\" when not named). Past the label-set cap, new label sets are counted with every label \"other\".",
		dropLabelNames, nil)
	overflowDesc = prometheus.NewDesc("droptrace_metrics_label_overflow_total",
		"Drops counted under the \"other\" label set of droptrace_drops_total because it had reached its cap of label sets.",
		nil, nil)
)

// dropsCollector serves droptrace_drops_total: from counts kept here in
// event mode, from the kernel's summary map read at scrape time otherwise.
type dropsCollector struct {
	mu      sync.Mutex
	cap     *labelCap
	counts  map[dropLabels]uint64
	summary func() (event.Counts, error)
	names   func(netns uint32) *event.Pod // nil when namespaces are not named
	// splitRules: NETFILTER_DROP keys are served from split, the rows
	// SummaryWriter was given, not from the kernel's counts.
	splitRules bool
	split      map[dropLabels]uint64
}

func newDropsCollector(opts Options) *dropsCollector {
	return &dropsCollector{cap: newLabelCap(opts.MaxLabelSets), counts: make(map[dropLabels]uint64),
		summary: opts.Summary, names: opts.Names,
		splitRules: opts.Summary != nil && opts.SplitRules, split: make(map[dropLabels]uint64)}
}

func (c *dropsCollector) observe(ev *event.Event) {
	c.mu.Lock()
	l, _ := c.cap.admit(eventLabels(ev))
	c.counts[l]++
	c.mu.Unlock()
}

func (c *dropsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- dropsDesc
	ch <- overflowDesc
}

func (c *dropsCollector) Collect(ch chan<- prometheus.Metric) {
	counts, err := c.snapshot()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(dropsDesc, err)
		return
	}
	for l, n := range counts {
		ch <- prometheus.MustNewConstMetric(dropsDesc, prometheus.CounterValue, float64(n), l.values()...)
	}
	ch <- prometheus.MustNewConstMetric(overflowDesc, prometheus.CounterValue, float64(counts[overflowLabels]))
}

// snapshot returns a copy of the counts: in summary mode the kernel's,
// folded through the label cap.
func (c *dropsCollector) snapshot() (map[dropLabels]uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.summary == nil {
		out := make(map[dropLabels]uint64, len(c.counts))
		for l, n := range c.counts {
			out[l] = n
		}
		return out, nil
	}
	kernel, err := c.summary()
	if err != nil {
		return nil, fmt.Errorf("reading the kernel's drop summary: %w", err)
	}
	out := make(map[dropLabels]uint64)
	for _, k := range sortedKeys(kernel) {
		if c.splitRules && k.Reason == reasonNetfilterDrop {
			continue
		}
		l, _ := c.cap.admit(keyLabels(k, c.podOf(k.Netns)))
		out[l] += kernel[k]
	}
	for _, l := range sortedLabels(c.split) {
		a, _ := c.cap.admit(l)
		out[a] += c.split[l]
	}
	return out, nil
}

// sortedKeys orders keys busiest first, so the cap admits the busiest
// label sets of the first scrape that sees them.
func sortedKeys(counts event.Counts) []event.SummaryKey {
	rows := event.Totals(counts, 0)
	keys := make([]event.SummaryKey, len(rows))
	for i, r := range rows {
		keys[i] = r.Key
	}
	return keys
}

// sortedLabels orders label sets busiest first, for the cap.
func sortedLabels(counts map[dropLabels]uint64) []dropLabels {
	ls := make([]dropLabels, 0, len(counts))
	for l := range counts {
		ls = append(ls, l)
	}
	slices.SortFunc(ls, func(a, b dropLabels) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return slices.Compare(a.values(), b.values())
	})
	return ls
}

func (c *dropsCollector) podOf(netns uint32) *event.Pod {
	if c.names == nil {
		return nil
	}
	return c.names(netns)
}
