package output

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// ErrRefused means an output path is one droptrace will not write to (a
// symbolic link, a directory, a block device): a usage error, as its
// UsageError method tells the command line without importing this package.
var ErrRefused error = refused{}

type refused struct{}

func (refused) Error() string { return "refused" }

// UsageError marks the error as the user's to fix on the command line.
func (refused) UsageError() bool { return true }

// OpenFile opens path for a stream of output without following a
// symbolic link at it, which could point a root-owned droptrace at any
// file. A missing file is created readable by its owner only; an
// existing regular file is truncated, and notice is told so; a FIFO or
// character device is written as a stream, neither truncated nor
// chmodded. Opening a FIFO waits for its reader until ctx ends, and an
// open that blocks otherwise is abandoned then too (ctx.Err is returned).
func OpenFile(ctx context.Context, path string, notice func(string)) (*os.File, error) {
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return createPrivate(path)
	case err != nil:
		return nil, err
	case info.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("%s is a symbolic link, which droptrace does not follow: give the path of a file: %w", path, ErrRefused)
	case info.Mode().IsRegular():
		return truncateRegular(path, notice)
	case info.Mode()&(fs.ModeNamedPipe|fs.ModeCharDevice) != 0:
		if info.Mode()&fs.ModeNamedPipe != 0 && notice != nil {
			notice(fmt.Sprintf("%s is a FIFO: waiting for a reader (Ctrl-C to stop)", path))
		}
		return openStream(ctx, path)
	}
	return nil, fmt.Errorf("%s is not a regular file, FIFO or character device (%v): %w", path, info.Mode().Type(), ErrRefused)
}

// createPrivate creates a new file: O_EXCL fails rather than open what
// appeared at path since the Lstat, link or not.
func createPrivate(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// truncateRegular opens an existing file and truncates it only once the
// open file is known to be regular; packets may hold secrets, so it is
// made readable by its owner only.
func truncateRegular(path string, notice func(string)) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, refuseLink(path, err)
	}
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = fmt.Errorf("%s changed while being opened: %w", path, ErrRefused)
	}
	if err == nil {
		err = f.Truncate(0)
	}
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	if notice != nil {
		notice(fmt.Sprintf("truncated the existing file %s", path))
	}
	return f, nil
}

// openStream opens a FIFO or character device in a goroutine, which is
// abandoned when ctx ends first: open(2) of a FIFO blocks until a reader
// opens it, and no signal interrupts that.
func openStream(ctx context.Context, path string) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NOFOLLOW, 0)
		done <- result{f, refuseLink(path, err)}
	}()
	select {
	case r := <-done:
		return r.f, r.err
	case <-ctx.Done():
		go func() { // close what a late reader lets it open
			if r := <-done; r.f != nil {
				r.f.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// refuseLink names the refusal when a link replaced the file between the
// Lstat and the open.
func refuseLink(path string, err error) error {
	if errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("%s is a symbolic link, which droptrace does not follow: %w", path, ErrRefused)
	}
	return err
}

// SameFile says whether path names the file f has open: -w /dev/stdout
// or a path that is the file stdout was redirected to. The null device is
// never the same: writing both streams to it loses nothing.
func SameFile(path string, f *os.File) bool {
	var a, b unix.Stat_t
	if unix.Stat(path, &a) != nil || unix.Fstat(int(f.Fd()), &b) != nil {
		return false
	}
	if a.Mode&unix.S_IFMT == unix.S_IFCHR && unix.Major(a.Rdev) == 1 && unix.Minor(a.Rdev) == 3 {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}
