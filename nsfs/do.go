package nsfs

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs fn on a new OS thread moved into the network namespace ns and
// returns what it returns. The thread is never unlocked: it ends with its
// goroutine instead of going back to the pool inside the namespace. What
// fn opens there (sockets, /proc/thread-self/net files) stays bound to
// the namespace; the rest of the process never enters it.
func Do[T any](ns *os.File, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("entering netns: %w", err)}
			return
		}
		v, err := fn()
		done <- result{v, err}
	}()
	res := <-done
	return res.v, res.err
}
