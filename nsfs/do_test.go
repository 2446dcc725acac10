package nsfs

import (
	"os"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDo runs a function in a namespace made for the test: it sees that
// namespace, and the calling thread stays in its own.
func TestDo(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("TestDo needs root (CI=true)")
		}
		t.Skip("SKIPPED: TestDo needs root to make a network namespace")
	}
	ns := newNetns(t)
	want := inodeOf(t, int(ns.Fd()))
	got, err := Do(ns, func() (uint64, error) {
		var st syscall.Stat_t
		err := syscall.Stat("/proc/thread-self/ns/net", &st)
		return st.Ino, err
	})
	if err != nil || got != want {
		t.Errorf("Do saw namespace %d (%v), want %d", got, err, want)
	}
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/thread-self/ns/net", &st); err != nil || st.Ino == want {
		t.Errorf("the caller's thread is in namespace %d (%v) after Do", st.Ino, err)
	}
}

// newNetns makes a network namespace, held by the returned file only.
func newNetns(t *testing.T) *os.File {
	t.Helper()
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends in the new namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- result{err: err}
			return
		}
		f, err := os.Open("/proc/thread-self/ns/net")
		done <- result{f, err}
	}()
	res := <-done
	if res.err != nil {
		t.Fatalf("making a namespace: %v", res.err)
	}
	t.Cleanup(func() { res.f.Close() })
	return res.f
}

func inodeOf(t *testing.T, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}
