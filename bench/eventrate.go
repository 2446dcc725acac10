package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// eventArgs are droptrace's arguments in the event-rate step besides the
// namespace: none, so it runs as a user would to stream drops (text to
// stdout, here /dev/null; firewall attribution on, as by default).
var eventArgs = []string{"--filter-netns"}

// eventRate finds the highest drop rate whose every event reaches user
// space: droptrace streams every drop to /dev/null while a paced storm
// doubles its rate until events are lost, then bisects. It then runs the
// best rate again with a CPU profile, to say where the time goes.
func (b *bench) eventRate() error {
	if b.o.eventAt > 0 {
		return b.eventProfile(b.o.eventAt)
	}
	var ok, bad eventRun
	for rate := 50000.0; rate < 8e6; rate *= 2 {
		r, err := b.eventStep(int(rate), "")
		if err != nil {
			return err
		}
		if r.lost > 0 {
			bad = r
			break
		}
		ok = r
		if r.achieved < 0.8*rate { // the storm itself can go no faster
			b.stormLimited = true
			break
		}
	}
	for i := 0; bad.lost > 0 && i < 3; i++ {
		r, err := b.eventStep(int((ok.achieved+float64(bad.rate))/2), "")
		if err != nil {
			return err
		}
		if r.lost > 0 {
			bad = r
		} else {
			ok = r
		}
	}
	b.lossless, b.lossyAt, b.eventBest = ok.achieved, float64(bad.rate), ok
	// At the rate reached: a storm paced beyond what the senders can do
	// runs flat out, and takes droptrace's CPU.
	return b.eventProfile(max(int(ok.achieved), 50000))
}

// eventRun is one paced storm streamed by droptrace.
type eventRun struct {
	rate                    int     // paced at, drops/s
	achieved                float64 // drops/s the DROP rule counted
	reported, matched, lost uint64
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

// eventStep runs droptrace through a storm paced at rate; with profile,
// droptrace writes a CPU profile there (DROPTRACE_CPUPROFILE).
func (b *bench) eventStep(rate int, profile string) (eventRun, error) {
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
	r.achieved, err = measureStorm(b.tp, window, b.o.senders, rate)
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
	fmt.Fprintf(os.Stderr, "bench:   paced at %8d drops/s: %9.0f drops/s, %d events lost, droptrace CPU %v per event (%.2f s for %d)\n",
		rate, r.achieved, r.lost, r.cpuPerEvent(), r.cpu.Seconds(), r.matched)
	return r, nil
}

// profileWindow is how long the storm runs under the CPU profile: at
// 100 samples a second, 10 s give a few hundred samples of droptrace.
const profileWindow = 10 * time.Second

// pollSlack is droptrace's read interval and how long it holds events
// for ordering, with room to spare.
const pollSlack = 20 * time.Millisecond

// eventProfile streams a storm at rate under a CPU profile and keeps the
// top of it for the report.
func (b *bench) eventProfile(rate int) error {
	dir, err := os.MkdirTemp("", "droptrace-profile")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cpu.pprof")
	if b.o.profile != "" {
		path = b.o.profile
	}
	r, err := b.eventStep(rate, path)
	if err != nil {
		return err
	}
	b.eventProfiled = r
	if _, err := os.Stat(path); err != nil {
		b.profileTop = fmt.Sprintf("no profile: this droptrace does not write one (%s)\n", "DROPTRACE_CPUPROFILE")
		return nil
	}
	b.profileTop, err = pprofTop(b.o.bin, path)
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

// reportEvents prints the event-rate step: the rate, CPU per event and
// the profile.
func (b *bench) reportEvents(w io.Writer) {
	if b.eventProfiled.rate == 0 {
		return
	}
	fmt.Fprintf(w, "\nEvents per second that reach user space with none lost (droptrace %s NS, every drop streamed as text to /dev/null, paced storm): **%.0f**",
		strings.Join(eventArgs, " "), b.lossless)
	if b.lossyAt > 0 {
		fmt.Fprintf(w, " (events were lost at %.0f/s)", b.lossyAt)
	}
	if b.stormLimited {
		fmt.Fprintf(w, " (the storm could go no faster: the rate is the senders', not droptrace's)")
	}
	fmt.Fprintln(w)
	best := b.eventBest
	if c := best.cpuPerEvent(); c > 0 {
		fmt.Fprintf(w, "\ndroptrace's CPU time (user+system) per event at that rate: %d ns, which one CPU would sustain at %.0f events/s.\n",
			c.Nanoseconds(), 1e9/float64(c.Nanoseconds()))
	}
	p := b.eventProfiled
	fmt.Fprintf(w, "\nWhere droptrace's time goes (CPU profile at %d drops/s: %.0f drops/s, %d lost, %d ns CPU per event):\n\n```\n%s```\n",
		p.rate, p.achieved, p.lost, p.cpuPerEvent().Nanoseconds(), b.profileTop)
}
