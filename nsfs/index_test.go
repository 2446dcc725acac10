package nsfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// fakeScans counts scans and returns the namespaces of the current step.
type fakeScans struct {
	n     int
	steps []map[uint32]string
}

func (f *fakeScans) scan() map[uint32]string {
	s := f.steps[min(f.n, len(f.steps)-1)]
	f.n++
	return s
}

func TestNetnsIndexRefreshesOnMiss(t *testing.T) {
	scans := &fakeScans{steps: []map[uint32]string{
		{1: "/run/netns/a"},
		{1: "/run/netns/a", 2: "/proc/42/ns/net"},
	}}
	now := time.Unix(1000, 0)
	x := &Index{MinRescan: time.Second, scan: scans.scan, now: func() time.Time { return now }}

	steps := []struct {
		name      string
		advance   time.Duration
		ino       uint32
		want      string
		wantScans int
	}{
		{"first use scans", 0, 1, "/run/netns/a", 1},
		{"known inode: no scan", 0, 1, "/run/netns/a", 1},
		{"unknown inode right after a scan: not found, no scan", 100 * time.Millisecond, 2, "", 1},
		{"unknown inode later: rescan finds it", time.Second, 2, "/proc/42/ns/net", 2},
		{"still unknown after a rescan", 0, 3, "", 2},
		{"rescans are rate-limited", 500 * time.Millisecond, 3, "", 2},
		{"and happen again after MinRescan", time.Second, 3, "", 3},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		got, err := x.Path(st.ino)
		if got != st.want || (st.want == "") != errors.Is(err, ErrNetnsNotFound) {
			t.Errorf("%s: Path(%d) = %q, %v; want %q", st.name, st.ino, got, err, st.want)
		}
		if scans.n != st.wantScans {
			t.Errorf("%s: %d scans, want %d", st.name, scans.n, st.wantScans)
		}
	}
}

func TestNetnsIndexForget(t *testing.T) {
	scans := &fakeScans{steps: []map[uint32]string{{1: "/proc/7/ns/net"}, {1: "/proc/9/ns/net"}}}
	now := time.Unix(1000, 0)
	x := &Index{MinRescan: time.Second, scan: scans.scan, now: func() time.Time { return now }}
	if got, _ := x.Path(1); got != "/proc/7/ns/net" {
		t.Fatalf("got %q", got)
	}
	x.Forget(1)
	now = now.Add(2 * time.Second)
	if got, _ := x.Path(1); got != "/proc/9/ns/net" {
		t.Errorf("after Forget: got %q, want the rescanned /proc/9/ns/net", got)
	}
}

// TestScanNetns scans the real /proc: this process's namespace must be
// found, by the inode stat reports, and a name under the run directory
// wins over a process.
func TestScanNetns(t *testing.T) {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &st); err != nil {
		t.Skipf("SKIPPED: no /proc/self/ns/net: %v", err)
	}
	run := t.TempDir()
	// A bind mount needs root; a symlink resolves to the same inode.
	if err := os.Symlink("/proc/self/ns/net", filepath.Join(run, "mine")); err != nil {
		t.Fatal(err)
	}
	got := Scan(run, "/proc")
	if p := got[uint32(st.Ino)]; p != filepath.Join(run, "mine") {
		t.Errorf("inode %d maps to %q, want the named file", st.Ino, p)
	}
	procOnly := Scan(filepath.Join(run, "missing"), "/proc")
	if p := procOnly[uint32(st.Ino)]; filepath.Base(p) != "net" {
		t.Errorf("inode %d maps to %q, want a /proc/PID/ns/net", st.Ino, p)
	}
}
