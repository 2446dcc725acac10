package metrics

import (
	"net/http"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/droptrace/droptrace/event"
)

// Options says where the metrics' values come from.
type Options struct {
	Version string
	// MaxLabelSets caps droptrace_drops_total (DefaultMaxLabelSets when 0).
	MaxLabelSets int
	// Summary, when set, reads the kernel's drop counts at scrape time
	// (summary mode); otherwise drops are counted with ObserveDrop.
	Summary func() (event.Counts, error)
	// SplitRules, in summary mode, serves NETFILTER_DROP keys from the
	// rows given to SummaryWriter, which the netfilter annotator has
	// split per rule, so they carry the `rule` label.
	SplitRules bool
	// Names, when set, names a namespace's pod in summary mode (the
	// pods annotator's cached look-up); in event mode the event's Pod is.
	Names func(netns uint32) *event.Pod
	// Lost, NotRun, Overflow and Probes are read at scrape time.
	Lost     func() uint64 // events the ring buffer had no room for
	NotRun   func() uint64 // probe hits the kernel did not run a program for
	Overflow func() uint64 // drops not counted because the summary map was full
	Probes   func() int
}

// Metrics is droptrace's Prometheus registry. ObserveDrop and TCPEvent may
// be called from any goroutine.
type Metrics struct {
	reg    *prometheus.Registry
	drops  *dropsCollector
	tcp    *prometheus.CounterVec
	handle http.Handler
}

// New registers droptrace's metrics on a registry of their own.
func New(opts Options) *Metrics {
	if opts.MaxLabelSets <= 0 {
		opts.MaxLabelSets = DefaultMaxLabelSets
	}
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg:   reg,
		drops: newDropsCollector(opts),
		tcp: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "droptrace_tcp_events_total",
			Help: "TCP events (retransmits, resets, ...) by kind.",
		}, []string{"kind"}),
	}
	reg.MustRegister(m.drops, m.tcp, buildInfo(opts.Version), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(scrapeFuncs(opts)...)
	m.handle = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m
}

func buildInfo(version string) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "droptrace_build_info",
		Help: "Always 1; the labels say which droptrace is running.",
	}, []string{"version", "goversion"})
	g.WithLabelValues(version, runtime.Version()).Set(1)
	return g
}

func scrapeFuncs(opts Options) []prometheus.Collector {
	var cs []prometheus.Collector
	if opts.Lost != nil {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "droptrace_events_lost_total",
			Help: "Drops that matched the filters but found the ring buffer full, so were not reported.",
		}, func() float64 { return float64(opts.Lost()) }))
	}
	if opts.NotRun != nil {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "droptrace_probe_hits_not_run_total",
			Help: "Probe hits the kernel did not run droptrace's program for, as it was running on that CPU already (an interrupt hit a probe sharing it): events among them are lost.",
		}, func() float64 { return float64(opts.NotRun()) }))
	}
	if opts.Overflow != nil {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "droptrace_summary_overflow_total",
			Help: "Drops not counted in --summary because the kernel's summary map was full.",
		}, func() float64 { return float64(opts.Overflow()) }))
	}
	if opts.Probes != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "droptrace_probes_attached",
			Help: "BPF programs droptrace has attached to the kernel.",
		}, func() float64 { return float64(opts.Probes()) }))
	}
	return cs
}

// ObserveDrop counts one reported drop (event mode).
func (m *Metrics) ObserveDrop(ev *event.Event) { m.drops.observe(ev) }

// TCPEvent counts one TCP event of the given kind.
func (m *Metrics) TCPEvent(kind string) { m.tcp.WithLabelValues(kind).Inc() }

// ServeHTTP serves the metrics in the Prometheus text format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handle.ServeHTTP(w, r) }

// Writer returns an event.Writer that counts the drops and TCP events it
// is given, so metrics can sit beside the other outputs of event mode.
// Path-tracing steps are not counted: the drop that ends a path is.
func (m *Metrics) Writer() event.Writer { return dropWriter{m} }

type dropWriter struct{ m *Metrics }

func (w dropWriter) Write(ev *event.Event) error {
	switch {
	case ev.Kind == event.KindDrop:
		w.m.ObserveDrop(ev)
	case ev.Kind.IsTCP():
		w.m.TCPEvent(string(ev.Kind))
	}
	return nil
}

func (w dropWriter) Close() error { return nil }
