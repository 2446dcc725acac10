package main

import (
	"fmt"
	"os"
	"time"
)

// eventRate finds the highest drop rate whose every event reaches user
// space: droptrace streams every drop to /dev/null while a paced storm
// doubles its rate until events are lost, then bisects.
func (b *bench) eventRate() error {
	ok, bad := 0.0, 0.0
	for rate := 50000.0; rate < 8e6; rate *= 2 {
		lost, achieved, err := b.eventStep(int(rate))
		if err != nil {
			return err
		}
		if lost > 0 {
			bad = rate
			break
		}
		ok = achieved
		if achieved < 0.8*rate { // the storm itself can go no faster
			break
		}
	}
	for i := 0; bad > 0 && i < 3; i++ {
		mid := (ok + bad) / 2
		lost, achieved, err := b.eventStep(int(mid))
		if err != nil {
			return err
		}
		if lost > 0 {
			bad = mid
		} else {
			ok = achieved
		}
	}
	b.lossless, b.lossyAt = ok, bad
	return nil
}

// eventStep runs droptrace through a storm paced at rate and returns the
// events it lost and the drop rate achieved.
func (b *bench) eventStep(rate int) (uint64, float64, error) {
	p, err := startProc([]string{b.o.bin, "--filter-netns", b.tp.server}, dropReady, 200*time.Millisecond, false)
	if err != nil {
		return 0, 0, err
	}
	achieved, err := measureStorm(b.tp, 3*time.Second, b.o.senders, rate)
	if serr := p.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return 0, 0, err
	}
	_, _, lost, ok := dropLoss(p.output())
	if !ok {
		return 0, 0, fmt.Errorf("droptrace printed no summary:\n%s", p.output())
	}
	fmt.Fprintf(os.Stderr, "bench:   paced at %8d drops/s: %9.0f drops/s, %d events lost\n", rate, achieved, lost)
	return lost, achieved, nil
}
