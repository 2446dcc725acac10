package e2e

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/droptrace/droptrace/bench/livedrop"
)

// TestBurstNotLost: drops that come in a burst far faster than the flood
// before them all reach user space. The flood (XDP live frames in calls
// of 2,000, paced at 90,000 drops a second) makes every read of the
// rings a busy one, so the reader lengthens its interval to its longest
// (160 ms); the burst (170,000 frames in one call, half again what a
// 16 MiB ring holds, at up to two million drops a second) overflows a
// ring in less than that. The programs must wake the reader once a ring
// is a quarter full (bpf/wake.h): the build before that lost most of such
// a burst. (400,000 frames at two million a second outran the reader now
// and then on a busy machine: 2,474 of 472,004 lost.)
func TestBurstNotLost(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	src, err := livedrop.New()
	if err != nil {
		t.Fatal(err) // live frames are Linux 5.18+; the hosts that run the e2e tests are newer
	}
	defer src.Close()
	// Its lines go straight to /dev/null: through a pipe to this process,
	// droptrace would wait for the test to read them, which the burst's
	// CPU is busy making.
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	tr := startTracerTo(t, devNull, []string{binary(t), "--filter-netns", tp.server})
	frame := livedrop.OtherHostFrame(net.ParseIP(tp.clientIP4), net.ParseIP(tp.serverIP4), 9)
	const floodFor, floodCall, floodRate, burst = 800 * time.Millisecond, 2000, 90000, 170000
	before, err := src.Frames()
	if err != nil {
		t.Fatal(err)
	}
	err = runInNetns(tp.server, func() error {
		// One CPU, so that every drop lands in one ring: drops spread over
		// two rings would need a burst twice as large to fill one.
		if err := pinThread(0); err != nil {
			return err
		}
		flood, err := livedrop.NewCall(tp.serverIf, frame, floodCall)
		if err != nil {
			return err
		}
		// Paced: unpaced, a host that makes live frames at two million
		// a second floods as fast as the burst, and the reader never
		// lengthens its interval.
		pace := time.Second * floodCall / floodRate
		start := time.Now()
		for i := 1; time.Since(start) < floodFor; i++ {
			if err := src.Run(flood); err != nil {
				return err
			}
			time.Sleep(time.Until(start.Add(time.Duration(i) * pace)))
		}
		all, err := livedrop.NewCall(tp.serverIf, frame, burst)
		if err != nil {
			return err
		}
		return src.Run(all)
	})
	if err != nil {
		t.Fatalf("live frames in %s: %v", tp.server, err)
	}
	after, err := src.Frames()
	if err != nil {
		t.Fatal(err)
	}
	made := after - before
	tr.stop(t)
	reported, matched, lost := exitCounts(t, tr.stderr.String(), "drops")
	routine := routineSkipped(t, tr)
	t.Logf("%d frames made (the burst %d), %d drops matched, %d reported, %d routine frees left out, %d lost",
		made, burst, matched, reported, routine, lost)
	if matched < made {
		t.Errorf("%d drops matched in the kernel, want at least the %d frames made", matched, made)
	}
	if lost != 0 || reported+routine != matched {
		t.Errorf("%d events lost, %d reported and %d routine of %d matched: want none lost", lost, reported, routine, matched)
	}
}
