package kernel

import (
	"os"
	"testing"
)

// TestMeasureHZ: the rate measured from /proc/timer_list must be the
// CONFIG_HZ of the kernel's config, when the machine has one to compare.
func TestMeasureHZ(t *testing.T) {
	if _, err := os.Stat("/proc/timer_list"); err != nil {
		t.Skipf("SKIPPED: %v", err)
	}
	got, err := measureHZ()
	if os.IsPermission(err) {
		t.Skipf("SKIPPED: /proc/timer_list needs root here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	want, source, err := HZ()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("measured HZ %d; HZ() says %d (%s)", got, want, source)
	if got != want {
		t.Errorf("measured HZ %d, HZ() says %d from %s", got, want, source)
	}
}

func TestNearestHZ(t *testing.T) {
	for rate, want := range map[float64]int{83: 100, 117: 100, 230: 250, 270: 250, 283: 300, 316: 300, 960: 1000} {
		if got := nearestHZ(rate); got != want {
			t.Errorf("nearestHZ(%g) = %d, want %d", rate, got, want)
		}
	}
}
