package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// freePort returns a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// curlMetrics fetches the endpoint with curl and parses it with the
// official client library's text parser.
func curlMetrics(t *testing.T, port int) map[string]*dto.MetricFamily {
	t.Helper()
	out, err := exec.Command("curl", "-sSf", fmt.Sprintf("http://127.0.0.1:%d/metrics", port)).Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(out)))
	if err != nil {
		t.Fatalf("not valid Prometheus text: %v\n%s", err, out)
	}
	return fams
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// TestMetrics drops a known number of datagrams, in event mode and in
// summary mode, and reads the counters from the endpoint.
func TestMetrics(t *testing.T) {
	for _, mode := range []struct {
		name   string
		args   []string
		probes float64
	}{
		{"events", []string{"--output", "json"}, 1},
		{"summary", []string{"--summary", "--output", "json"}, 1},
		// As many as droptrace says it attached (0: read from stderr).
		{"trace", []string{"--trace", "--output", "json"}, 0},
	} {
		t.Run(mode.name, func(t *testing.T) {
			requireRoot(t)
			tp := newTopology(t)
			tp.addRules(t)
			tp.resolveARP(t)
			port := freePort(t)
			tr := startTracer(t, append(mode.args, "--metrics-addr", fmt.Sprint(port), "--filter-netns", tp.server)...)
			const n = 300
			floodUDP(t, tp.client, tp.serverIP4, dropPort, n)
			waitForDrops(t, port, tp, n)
			// The kernel's count of probe hits it did not run droptrace's
			// programs for, around the scrape.
			before := recursionMissesOf(t, tr.cmd.Process.Pid)
			fams := curlMetrics(t, port)
			after := recursionMissesOf(t, tr.cmd.Process.Pid)
			tr.stop(t)
			checkDropsTotal(t, fams, inode(t, tp.server), tp.serverIf, n)
			probes := mode.probes
			if probes == 0 {
				probes = attachedProbes(t, tr)
			}
			checkGauge(t, fams, "droptrace_probes_attached", probes)
			checkGauge(t, fams, "droptrace_events_lost_total", 0)
			checkBetween(t, fams, "droptrace_probe_hits_not_run_total", float64(before), float64(after))
			info := fams["droptrace_build_info"].GetMetric()
			if len(info) != 1 || !strings.HasPrefix(labels(info[0])["goversion"], "go") || labels(info[0])["version"] == "" {
				t.Errorf("droptrace_build_info: %v", info)
			}
			if _, ok := fams["droptrace_drops_total"]; !ok {
				t.Errorf("no droptrace_drops_total")
			}
		})
	}
}

// waitForDrops waits until the endpoint shows n drops: in event mode they
// arrive through the ring buffer, in summary mode at the next interval.
func waitForDrops(t *testing.T, port int, tp *topology, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d drops on the metrics endpoint", n), settle, func() error {
		return atLeast(uint64(dropsOf(curlMetrics(t, port), inode(t, tp.server), tp.serverIf)), uint64(n))
	})
}

func dropsOf(fams map[string]*dto.MetricFamily, netns uint64, ifname string) float64 {
	var sum float64
	for _, m := range fams["droptrace_drops_total"].GetMetric() {
		l := labels(m)
		if l["reason"] == "NETFILTER_DROP" && l["netns"] == fmt.Sprint(netns) && l["ifname"] == ifname && l["proto"] == "udp" {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func checkDropsTotal(t *testing.T, fams map[string]*dto.MetricFamily, netns uint64, ifname string, n int) {
	t.Helper()
	if got := dropsOf(fams, netns, ifname); got != float64(n) {
		t.Errorf("droptrace_drops_total{reason=NETFILTER_DROP,netns=%d,ifname=%s,proto=udp} = %v, want %d", netns, ifname, got, n)
	}
	for _, m := range fams["droptrace_drops_total"].GetMetric() {
		if l := labels(m); l["reason"] == "NETFILTER_DROP" && !strings.HasPrefix(l["location"], "nft_do_chain+") {
			t.Errorf("location label %q, want nft_do_chain+...", l["location"])
		}
	}
}

func checkGauge(t *testing.T, fams map[string]*dto.MetricFamily, name string, want float64) {
	t.Helper()
	ms := fams[name].GetMetric()
	if len(ms) != 1 {
		t.Errorf("%s: %d samples, want 1", name, len(ms))
		return
	}
	if got := ms[0].GetGauge().GetValue() + ms[0].GetCounter().GetValue(); got != want {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

// checkBetween checks that metric name, of one sample, is within [lo, hi].
func checkBetween(t *testing.T, fams map[string]*dto.MetricFamily, name string, lo, hi float64) {
	t.Helper()
	ms := fams[name].GetMetric()
	if len(ms) != 1 {
		t.Errorf("%s: %d samples, want 1", name, len(ms))
		return
	}
	if got := ms[0].GetCounter().GetValue(); got < lo || got > hi {
		t.Errorf("%s = %v, want %v to %v (the kernel's count around the scrape)", name, got, lo, hi)
	}
}

var attachedRe = regexp.MustCompile(`attached (\d+) probes`)

// attachedProbes reads how many probes droptrace said it attached.
func attachedProbes(t *testing.T, tr *tracer) float64 {
	t.Helper()
	m := attachedRe.FindStringSubmatch(tr.stderr.String())
	if m == nil {
		t.Fatalf("droptrace did not say how many probes it attached:\n%s", tr.stderr.String())
	}
	n, _ := strconv.Atoi(m[1])
	return float64(n)
}
