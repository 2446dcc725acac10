package metrics

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/droptrace/droptrace/event"
)

func TestLabelCap(t *testing.T) {
	c := newLabelCap(2)
	a, b, d := dropLabels{reason: "A"}, dropLabels{reason: "B"}, dropLabels{reason: "D"}
	tests := []struct {
		in     dropLabels
		want   dropLabels
		wantOK bool
	}{
		{a, a, true},
		{b, b, true},
		{d, overflowLabels, false}, // the cap is reached
		{a, a, true},               // admitted sets stay admitted
		{d, overflowLabels, false},
	}
	for i, tt := range tests {
		got, ok := c.admit(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("step %d: admit(%v) = %v, %v; want %v, %v", i, tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

// scrape serves m once and parses the answer with the official parser.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	// Legacy validation: the strictest names, as older Prometheus servers accept.
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("metrics are not valid Prometheus text: %v\n%s", err, rec.Body)
	}
	return fams
}

func dropCounts(fams map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, m := range fams["droptrace_drops_total"].GetMetric() {
		key := ""
		for _, l := range m.GetLabel() {
			key += l.GetName() + "=" + l.GetValue() + " "
		}
		out[key] = m.GetCounter().GetValue()
	}
	return out
}

func TestEventModeCap(t *testing.T) {
	m := New(Options{Version: "test", MaxLabelSets: 3, Lost: func() uint64 { return 7 }, Probes: func() int { return 1 }})
	for i := range 5 {
		for range i + 1 {
			m.ObserveDrop(&event.Event{Reason: "NETFILTER_DROP", Location: "nft_do_chain+0x46f", Netns: 42, Ifname: fmt.Sprintf("if%d", i), Proto: "udp"})
		}
	}
	m.TCPEvent("retransmit")
	fams := scrape(t, m)
	got := dropCounts(fams)
	want := map[string]float64{
		"ifname=if0 location=nft_do_chain+0x46f netns=42 pod= pod_namespace= proto=udp reason=NETFILTER_DROP rule= ": 1,
		"ifname=if1 location=nft_do_chain+0x46f netns=42 pod= pod_namespace= proto=udp reason=NETFILTER_DROP rule= ": 2,
		"ifname=if2 location=nft_do_chain+0x46f netns=42 pod= pod_namespace= proto=udp reason=NETFILTER_DROP rule= ": 3,
		"ifname=other location=other netns=other pod=other pod_namespace=other proto=other reason=other rule=other ": 9,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("drops:\ngot  %v\nwant %v", got, want)
	}
	checkValue(t, fams, "droptrace_metrics_label_overflow_total", 9)
	checkValue(t, fams, "droptrace_events_lost_total", 7)
	checkValue(t, fams, "droptrace_probes_attached", 1)
	checkValue(t, fams, "droptrace_tcp_events_total", 1)
	checkValue(t, fams, "droptrace_build_info", 1)
}

func TestSummaryModeReadsAtScrape(t *testing.T) {
	k := event.SummaryKey{Reason: "NO_SOCKET", Location: "__udp4_lib_rcv+0x4bc", Netns: 1, Ifname: "lo", Proto: "udp"}
	var n uint64
	m := New(Options{Version: "test", Summary: func() (event.Counts, error) {
		n += 10
		return event.Counts{k: n}, nil
	}, Overflow: func() uint64 { return 0 }})
	for _, want := range []float64{10, 20} {
		got := dropCounts(scrape(t, m))
		if v := got["ifname=lo location=__udp4_lib_rcv+0x4bc netns=1 pod= pod_namespace= proto=udp reason=NO_SOCKET rule= "]; v != want {
			t.Errorf("got %v, want %v", got, want)
		}
	}
}

func checkValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, want float64) {
	t.Helper()
	f, ok := fams[name]
	if !ok || len(f.GetMetric()) != 1 {
		t.Errorf("%s: want one sample, got %v", name, f)
		return
	}
	m := f.GetMetric()[0]
	got := m.GetCounter().GetValue() + m.GetGauge().GetValue()
	if got != want {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

// TestPodLabels checks the pod labels in both modes: from the event's
// annotation, and from Names at scrape time.
func TestPodLabels(t *testing.T) {
	pod := &event.Pod{Name: "web", Namespace: "shop", Container: "nginx"}
	m := New(Options{Version: "test"})
	m.ObserveDrop(&event.Event{Reason: "NO_SOCKET", Netns: 7, Proto: "udp", Pod: pod})
	const want = "ifname= location= netns=7 pod=web pod_namespace=shop proto=udp reason=NO_SOCKET rule= "
	if got := dropCounts(scrape(t, m)); got[want] != 1 || len(got) != 1 {
		t.Errorf("event mode: got %v, want %q: 1", got, want)
	}
	k := event.SummaryKey{Reason: "NO_SOCKET", Netns: 7, Proto: "udp"}
	m = New(Options{Version: "test",
		Summary: func() (event.Counts, error) { return event.Counts{k: 3}, nil },
		Names: func(netns uint32) *event.Pod {
			if netns == 7 {
				return pod
			}
			return nil
		}})
	if got := dropCounts(scrape(t, m)); got[want] != 3 || len(got) != 1 {
		t.Errorf("summary mode: got %v, want %q: 3", got, want)
	}
}

func TestRuleLabel(t *testing.T) {
	m := New(Options{Version: "test", MaxLabelSets: 10, Lost: func() uint64 { return 0 }, Probes: func() int { return 1 }})
	rule := &event.Netfilter{Table: "filter", Chain: "INPUT", Rule: &event.NetfilterRule{Handle: 7}, Certainty: "counter"}
	policy := &event.Netfilter{Table: "filter", Chain: "FORWARD", Policy: true, Certainty: "counter"}
	cands := &event.Netfilter{Certainty: "candidates", Candidates: []event.NetfilterVerdict{{}, {}}}
	for _, nf := range []*event.Netfilter{rule, rule, policy, cands} {
		m.ObserveDrop(&event.Event{Reason: "NETFILTER_DROP", Netns: 1, Proto: "udp", Netfilter: nf})
	}
	got := dropCounts(scrape(t, m))
	for label, want := range map[string]float64{"rule=filter/INPUT/7 ": 2, "rule=filter/FORWARD/policy ": 1, "rule= ": 1} {
		if v := got["ifname= location= netns=1 pod= pod_namespace= proto=udp reason=NETFILTER_DROP "+label]; v != want {
			t.Errorf("%s: %v, want %v (all: %v)", label, v, want, got)
		}
	}
}

// discardRows is a SummaryWriter that keeps nothing.
type discardRows struct{}

func (discardRows) WriteInterval(time.Time, []event.SummaryRow) error { return nil }
func (discardRows) WriteTotals(time.Time, time.Duration, []event.SummaryRow) error {
	return nil
}

// In summary mode with SplitRules, NETFILTER_DROP keys come from the rows
// as the annotator split them per rule, through the last interval, and
// every series only grows; other keys are read from the kernel.
func TestSummaryModeSplitRules(t *testing.T) {
	nf := event.SummaryKey{Reason: "NETFILTER_DROP", Location: "nft_do_chain+0x46f", Netns: 1, Ifname: "v0", Proto: "udp"}
	ns := event.SummaryKey{Reason: "NO_SOCKET", Location: "__udp4_lib_rcv+0x4bc", Netns: 1, Ifname: "v0", Proto: "udp"}
	kernel := event.Counts{nf: 3500, ns: 4}
	m := New(Options{Version: "test", SplitRules: true, Summary: func() (event.Counts, error) { return kernel, nil },
		Overflow: func() uint64 { return 0 }})
	sw := m.SummaryWriter(discardRows{})
	rule := &event.Netfilter{Table: "filter", Chain: "INPUT", Rule: &event.NetfilterRule{Handle: 3}, Certainty: "counter"}
	labels := "ifname=v0 location=nft_do_chain+0x46f netns=1 pod= pod_namespace= proto=udp reason=NETFILTER_DROP "
	// Before any interval: nothing of the key yet, not the kernel's 3500
	// under rule="" (which would later shrink).
	if got := dropCounts(scrape(t, m)); got[labels+"rule= "] != 0 || len(got) != 1 {
		t.Errorf("before the first interval: %v", got)
	}
	steps := []struct {
		rows        []event.SummaryRow
		rule, other float64
	}{
		{[]event.SummaryRow{{Key: nf, Count: 100}}, 0, 100},
		{[]event.SummaryRow{{Key: nf, Count: 3000, Netfilter: rule}, {Key: nf, Count: 20}, {Key: ns, Count: 4}}, 3000, 120},
		{[]event.SummaryRow{{Key: nf, Count: 380, Netfilter: rule}}, 3380, 120},
	}
	for i, s := range steps {
		if err := sw.WriteInterval(time.Now(), s.rows); err != nil {
			t.Fatal(err)
		}
		got := dropCounts(scrape(t, m))
		if got[labels+"rule=filter/INPUT/3 "] != s.rule || got[labels+"rule= "] != s.other {
			t.Errorf("interval %d: %v, want rule %v and unattributed %v", i, got, s.rule, s.other)
		}
		if v := got["ifname=v0 location=__udp4_lib_rcv+0x4bc netns=1 pod= pod_namespace= proto=udp reason=NO_SOCKET rule= "]; v != 4 {
			t.Errorf("interval %d: NO_SOCKET %v, want the kernel's 4", i, v)
		}
	}
}
