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

	storm    []stormRow
	tcpRows  []tcpRow
	lossless float64 // highest paced rate with no event lost
	lossyAt  float64 // lowest paced rate that lost events
	costs    []costRow
}

type stormRow struct {
	cfg     tracerConfig
	rates   sample
	rssKiB  uint64 // resident at the end of a storm, the most of any round
	peakKiB uint64 // peak resident (VmHWM), loading included
	// matched, lost: summed over the rounds, for droptrace in event mode.
	reported, matched, lost uint64
	lossSeen                bool
}

// storms measures every configuration o.rounds times, interleaved, so a
// noisy moment on the machine hits all of them alike.
func (b *bench) storms(cfgs []tracerConfig) error {
	b.storm = make([]stormRow, len(cfgs))
	for i, c := range cfgs {
		b.storm[i].cfg = c
	}
	for round := range b.o.rounds {
		for i := range b.storm {
			if err := b.stormOnce(&b.storm[i]); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "bench:   round %d %-55s %9.0f drops/s\n", round+1, b.storm[i].cfg.name, b.storm[i].rates[round])
		}
	}
	return nil
}

func (b *bench) stormOnce(row *stormRow) error {
	var p *proc
	if row.cfg.start != nil {
		var err error
		if p, err = row.cfg.start(); err != nil {
			return err
		}
	}
	rate, err := measureStorm(b.tp, b.o.window, b.o.senders, 0)
	if p != nil {
		rss, peak := p.memory()
		row.rssKiB, row.peakKiB = max(row.rssKiB, rss), max(row.peakKiB, peak)
		if serr := p.stop(); err == nil {
			err = serr
		}
		if rep, m, l, ok := dropLoss(p.output()); ok {
			row.reported, row.matched, row.lost, row.lossSeen = row.reported+rep, row.matched+m, row.lost+l, true
		}
	}
	row.rates = append(row.rates, rate)
	return err
}

// measureStorm runs a storm (paced at rate when > 0) and returns the drops
// per second the DROP rule counted over window, after a short warm-up.
func measureStorm(tp *topology, window time.Duration, senders, rate int) (float64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &storm{ns: tp.client, addr: tp.serverIP, port: stormPort, senders: senders, rate: rate}
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	time.Sleep(300 * time.Millisecond)
	n, elapsed, err := countDrops(tp, window)
	cancel()
	if serr := <-done; err == nil {
		err = serr
	}
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
