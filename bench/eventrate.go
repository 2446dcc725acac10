package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// eventArgs are droptrace's arguments in the event-rate step besides the
// namespace: none, so it runs as a user would to stream drops (text to
// stdout, here /dev/null; firewall attribution on, as by default).
var eventArgs = []string{"--filter-netns"}

// dropSource makes the drops of the event-rate step, paced.
type dropSource struct {
	key    string // its name for -event-source
	name   string // what makes the drops, for the report
	reason string // the drop reason of every drop it makes
	// measure makes drops at about rate a second and returns the drops a
	// second over window and, when the source can count them, every drop
	// it made (0 when it cannot).
	measure func(window time.Duration, rate int) (achieved float64, made uint64, err error)
	close   func()
}

// dropSources returns the event step's sources named in keys (comma
// separated): "live" (XDP live frames, the one that can outrun
// droptrace on two CPUs) and "udp" (the drop storm's datagrams).
func (b *bench) dropSources(keys string) ([]dropSource, error) {
	var srcs []dropSource
	for _, k := range strings.Split(keys, ",") {
		switch k {
		case "live":
			ls, err := newLiveStorm(b.tp.server, b.tp.serverDev, b.o.liveCPUs)
			if err != nil {
				return nil, err
			}
			srcs = append(srcs, dropSource{
				key:    k,
				name:   fmt.Sprintf("XDP live frames (BPF_PROG_TEST_RUN, BPF_F_TEST_XDP_LIVE_FRAMES) received on the server's veth, to a MAC not the server's, by %d threads on CPU %s", liveThreads*len(b.o.liveCPUs), cpuList(b.o.liveCPUs)),
				reason: "OTHERHOST (ip_rcv)",
				measure: func(window time.Duration, rate int) (float64, uint64, error) {
					return ls.measure(b.tp, window, rate)
				},
				close: ls.close,
			})
		case "udp":
			srcs = append(srcs, dropSource{
				key:    k,
				name:   fmt.Sprintf("64-byte UDP datagrams sent with sendmmsg by %d threads across the veth (the drop storm)", b.o.senders),
				reason: "NETFILTER_DROP (iptables rule, attributed to it by droptrace)",
				measure: func(window time.Duration, rate int) (float64, uint64, error) {
					r, err := measureStorm(b.tp, window, b.o.senders, rate)
					return r, 0, err
				},
				close: func() {},
			})
		default:
			return nil, fmt.Errorf("-event-source: unknown source %q (live, udp)", k)
		}
	}
	return srcs, nil
}

// cpuList is cpus as -live-cpus takes them.
func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// eventResult is the event step with one drop source.
type eventResult struct {
	src      dropSource
	lossless float64 // highest paced rate with no event lost
	lossyAt  float64 // lowest paced rate that lost events
	// Its best lossless run, whether the source itself capped it, and
	// the run under a CPU profile with the profile's top.
	best       eventRun
	limited    bool
	profiled   eventRun
	profileTop string
	note       string // why the source gave no rate
}

// eventRate finds, for each drop source, the highest drop rate whose
// every event reaches user space: droptrace streams every drop to
// /dev/null while a paced source doubles its rate until events are lost,
// then bisects. It then runs the best rate again with a CPU profile, to
// say where the time goes.
func (b *bench) eventRate() error {
	srcs, err := b.dropSources(b.o.eventSource)
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range srcs {
			s.close()
		}
	}()
	for i, src := range srcs {
		fmt.Fprintf(os.Stderr, "bench:  drops made by %s, reason %s\n", src.name, src.reason)
		res := eventResult{src: src}
		var err error
		if b.o.eventAt > 0 {
			err = b.eventProfile(&res, b.o.eventAt, i == 0)
		} else {
			err = b.eventSearch(&res, i == 0)
		}
		if err != nil && src.key == "live" {
			// Kernels before 5.18 have no live frames: the other rows
			// are still worth their time.
			fmt.Fprintf(os.Stderr, "bench:  %v\n", err)
			res.note = err.Error()
		} else if err != nil {
			return err
		}
		b.events = append(b.events, res)
	}
	return nil
}

// eventSearch is the search and the profile with one source; keep says
// the profile goes to -profile.
func (b *bench) eventSearch(res *eventResult, keep bool) error {
	var ok, bad eventRun
	short := 0.0 // what the last step made when it fell short of its pace
	for rate := 50000.0; rate < 16e6; rate *= 2 {
		r, err := b.eventStep(res.src, int(rate), "")
		if err != nil {
			return err
		}
		if r.lost > 0 {
			bad = r
			break
		}
		if r.achieved > ok.achieved {
			ok = r
		}
		if r.achieved >= 0.8*rate {
			short = 0
			continue
		}
		// Short of its pace. A source paced low can be, from what each
		// call costs whatever its pace (the live source's page pool):
		// it can go no faster only when a faster pace no longer made it
		// faster.
		if short > 0 && r.achieved < 1.1*short {
			res.limited = true
			break
		}
		short = r.achieved
	}
	for i := 0; bad.lost > 0 && i < 3; i++ {
		r, err := b.eventStep(res.src, int((ok.achieved+float64(bad.rate))/2), "")
		if err != nil {
			return err
		}
		switch {
		case r.lost > 0:
			bad = r
		case r.achieved > ok.achieved:
			// A source that fell short of its pace (a busy machine)
			// does not lower what was already delivered.
			ok = r
		}
	}
	res.lossless, res.lossyAt, res.best = ok.achieved, float64(bad.rate), ok
	// At the rate reached: a source paced beyond what it can do runs
	// flat out, and takes droptrace's CPU.
	return b.eventProfile(res, max(int(ok.achieved), 50000), keep)
}

// eventRun is one paced storm streamed by droptrace.
type eventRun struct {
	rate                    int     // paced at, drops/s
	achieved                float64 // drops/s the source counted
	made                    uint64  // drops the source made while droptrace ran (0: not counted)
	reported, matched, lost uint64
	skipped                 uint64        // routine frees droptrace left out on purpose
	cpu                     time.Duration // droptrace's user+system time during the storm
}

// cpuPerEvent is droptrace's CPU time per event matched during the storm,
// idle polling included.
func (r eventRun) cpuPerEvent() time.Duration {
	if r.matched == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.matched)
}

// consistent says every matched event was reported, counted lost or
// left out as a routine free.
func (r eventRun) consistent() bool { return r.reported+r.lost+r.skipped == r.matched }

// eventStep runs droptrace through a storm paced at rate; with profile,
// droptrace writes a CPU profile there (DROPTRACE_CPUPROFILE).
func (b *bench) eventStep(src dropSource, rate int, profile string) (eventRun, error) {
	r := eventRun{rate: rate}
	var env []string
	if profile != "" {
		env = []string{"DROPTRACE_CPUPROFILE=" + profile}
	}
	argv := append([]string{b.o.bin}, append(eventArgs, b.tp.server)...)
	p, err := startProcEnv(argv, env, dropReady, 200*time.Millisecond, false)
	if err != nil {
		return r, err
	}
	before := p.cpuTime()
	window := 3 * time.Second
	if profile != "" {
		window = profileWindow // samples enough for the top functions
	}
	r.achieved, r.made, err = src.measure(window, rate)
	time.Sleep(3 * pollSlack) // the last events are read
	r.cpu = p.cpuTime() - before
	if serr := p.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return r, err
	}
	var ok bool
	if r.reported, r.matched, r.lost, ok = dropLoss(p.output()); !ok {
		return r, fmt.Errorf("droptrace printed no summary:\n%s", p.output())
	}
	r.skipped = routineSkipped(p.output())
	fmt.Fprintf(os.Stderr, "bench:   paced at %8d drops/s: %9.0f drops/s, %d events lost (%d reported, %d routine, of %d matched; %d made), droptrace CPU %v per event (%.2f s)\n",
		rate, r.achieved, r.lost, r.reported, r.skipped, r.matched, r.made, r.cpuPerEvent(), r.cpu.Seconds())
	return r, nil
}

// profileWindow is how long the storm runs under the CPU profile: at
// 100 samples a second, 10 s give a few hundred samples of droptrace.
const profileWindow = 10 * time.Second

// pollSlack is droptrace's read interval and how long it holds events
// for ordering, with room to spare.
const pollSlack = 20 * time.Millisecond

// eventProfile streams a storm at rate under a CPU profile and keeps the
// top of it for the report; keep writes it to -profile too.
func (b *bench) eventProfile(res *eventResult, rate int, keep bool) error {
	dir, err := os.MkdirTemp("", "droptrace-profile")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cpu.pprof")
	if keep && b.o.profile != "" {
		path = b.o.profile
	}
	r, err := b.eventStep(res.src, rate, path)
	if err != nil {
		return err
	}
	res.profiled = r
	if b.o.eventAt > 0 {
		res.best = r
		if r.lost == 0 {
			res.lossless = r.achieved
		}
	}
	if _, err := os.Stat(path); err != nil {
		res.profileTop = fmt.Sprintf("no profile: this droptrace does not write one (%s)\n", "DROPTRACE_CPUPROFILE")
		return nil
	}
	res.profileTop, err = pprofTop(b.o.bin, path)
	return err
}

// pprofTop renders the heaviest functions of a CPU profile, by their
// own time and with their callees. Start-up (the main goroutine: reading
// BTF and kallsyms, loading) is left out: it is not what an event costs.
func pprofTop(bin, path string) (string, error) {
	goTool := os.Getenv("GO")
	if goTool == "" {
		goTool = "go"
	}
	var out strings.Builder
	for _, sort := range []string{"-flat", "-cum"} {
		b, err := exec.Command(goTool, "tool", "pprof", "-top", sort, "-nodecount=30", `-ignore=^runtime\.main$`, bin, path).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go tool pprof: %w: %s", err, b)
		}
		out.Write(b)
		out.WriteString("\n")
	}
	return out.String(), nil
}

// reportEvents prints the event-rate step: per drop source, the rate,
// CPU per event and the profile.
func (b *bench) reportEvents(w io.Writer) {
	if len(b.events) == 0 {
		return
	}
	fmt.Fprintf(w, "\n| events that reach user space with none lost (droptrace %s NS, every drop streamed as text to /dev/null, paced) | drop reason | events/s delivered, none lost | events lost at | droptrace CPU per event | reported + lost + routine = matched |\n|---|---|---:|---:|---:|---|\n",
		strings.Join(eventArgs, " "))
	for _, e := range b.events {
		if e.note != "" {
			fmt.Fprintf(w, "| %s | %s | n/a: %s | | | |\n", e.src.name, e.src.reason, e.note)
			continue
		}
		lossy := ""
		if e.lossyAt > 0 {
			lossy = fmt.Sprintf("%.0f/s", e.lossyAt)
		}
		if e.limited {
			lossy = "none (the source could go no faster)"
		}
		c := e.best.cpuPerEvent()
		fmt.Fprintf(w, "| %s | %s | **%.0f** | %s | %d ns (one CPU: %.0f events/s) | %v (%d + %d + %d of %d) |\n",
			e.src.name, e.src.reason, e.lossless, lossy, c.Nanoseconds(), 1e9/float64(max(c.Nanoseconds(), 1)),
			e.best.consistent(), e.best.reported, e.best.lost, e.best.skipped, e.best.matched)
	}
	for _, e := range b.events {
		if e.note != "" {
			continue
		}
		p := e.profiled
		made := ""
		if p.made > 0 {
			made = fmt.Sprintf(", %d drops made, %d matched", p.made, p.matched)
		}
		fmt.Fprintf(w, "\nWhere droptrace's time goes with %s drops (CPU profile at %d drops/s: %.0f drops/s, %d lost%s, %d ns CPU per event):\n\n```\n%s```\n",
			e.src.key, p.rate, p.achieved, p.lost, made, p.cpuPerEvent().Nanoseconds(), e.profileTop)
	}
}
