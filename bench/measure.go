package main

import (
	"context"
	"fmt"
	"os"
	"time"
)

// bench holds the measurements of one run.
type bench struct {
	o  options
	tp *topology

	storm   []stormRow
	check   stormCheck
	tcpRuns []tcpRun
	events  []eventResult // the event-rate step, per drop source
	costs   []costRow
	vmRows  []vmPathRow
	vmNote  string
	vmClock string // how the VM kept time, for the report
}

type stormRow struct {
	cfg     tracerConfig
	rates   sample // drops/s in this configuration's slices
	ratios  sample // each slice's rate over the no-tracer slices either side
	rssKiB  uint64 // resident at the end of a slice, the most of any round
	peakKiB uint64 // peak resident (VmHWM), loading included
	// matched, lost: summed over the rounds, for droptrace in event mode.
	reported, matched, lost uint64
	lossSeen                bool
}

// stormCheck compares, over the whole storm step, the datagrams the
// senders handed to the kernel with the drops the iptables rule counted:
// the slices are timed with the first, which costs nothing to read.
type stormCheck struct {
	sent, dropped uint64
}

// storms measures every configuration in slices of one continuous storm.
// The machine's speed drifts by several percent over seconds (other
// guests on the host), far more than a tracer's cost, so each
// configuration's slice sits between two no-tracer slices and is compared
// with their mean: B T1 B T2 B ... The tracers start and stop between
// slices, unmeasured; rounds repeat the sequence for medians.
func (b *bench) storms(cfgs []tracerConfig) error {
	b.storm = make([]stormRow, len(cfgs))
	for i, c := range cfgs {
		b.storm[i].cfg = c
	}
	s := &storm{ns: b.tp.client, addr: b.tp.serverIP, port: stormPort, senders: b.o.senders}
	return s.during(func() error { return b.stormSlices(s) })
}

// during runs the storm while fn runs and returns fn's error, or else the
// storm's.
func (s *storm) during(fn func() error) error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	err := fn()
	cancel()
	if serr := <-done; err == nil {
		err = serr
	}
	return err
}

func (b *bench) stormSlices(s *storm) error {
	dropped0, err := b.tp.dropped()
	if err != nil {
		return err
	}
	sent0 := s.sent.Load()
	time.Sleep(500 * time.Millisecond) // warm-up
	base := b.slice(s)
	for round := range b.o.rounds {
		for i := range b.storm {
			row := &b.storm[i]
			if row.cfg.argv == nil {
				continue
			}
			rate, err := b.tracerSlice(s, row)
			if err != nil {
				return err
			}
			next := b.slice(s)
			b.storm[0].rates = append(b.storm[0].rates, base)
			row.rates = append(row.rates, rate)
			row.ratios = append(row.ratios, rate/((base+next)/2))
			fmt.Fprintf(os.Stderr, "bench:   round %d %-55s %9.0f drops/s  %.3f\n", round+1, row.cfg.name, rate, rate/((base+next)/2))
			base = next
		}
	}
	b.storm[0].rates = append(b.storm[0].rates, base)
	dropped1, err := b.tp.dropped()
	b.check = stormCheck{sent: s.sent.Load() - sent0, dropped: dropped1 - dropped0}
	return err
}

// slice returns the storm's rate over one window.
func (b *bench) slice(s *storm) float64 {
	n0, t0 := s.sent.Load(), time.Now()
	time.Sleep(b.o.window)
	n1, t1 := s.sent.Load(), time.Now()
	return float64(n1-n0) / t1.Sub(t0).Seconds()
}

// tracerSlice starts row's tracer, measures one slice and stops it.
func (b *bench) tracerSlice(s *storm, row *stormRow) (float64, error) {
	p, err := row.cfg.start()
	if err != nil {
		return 0, err
	}
	rate := b.slice(s)
	rss, peak := p.memory()
	row.rssKiB, row.peakKiB = max(row.rssKiB, rss), max(row.peakKiB, peak)
	if err := p.stop(); err != nil {
		return 0, err
	}
	if rep, m, l, ok := dropLoss(p.output()); ok {
		row.reported, row.matched, row.lost, row.lossSeen = row.reported+rep, row.matched+m, row.lost+l, true
	}
	return rate, nil
}

// measureStorm runs a storm (paced at rate when > 0) and returns the drops
// per second the DROP rule counted over window, after a short warm-up.
func measureStorm(tp *topology, window time.Duration, senders, rate int) (float64, error) {
	s := &storm{ns: tp.client, addr: tp.serverIP, port: stormPort, senders: senders, rate: rate}
	var n uint64
	var elapsed time.Duration
	err := s.during(func() (err error) {
		time.Sleep(300 * time.Millisecond)
		n, elapsed, err = countDrops(tp, window)
		return err
	})
	return float64(n) / elapsed.Seconds(), err
}

// countDrops reads the DROP rule's counter window apart.
func countDrops(tp *topology, window time.Duration) (uint64, time.Duration, error) {
	before, err := tp.dropped()
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	time.Sleep(window)
	after, err := tp.dropped()
	return after - before, time.Since(start), err
}
