package output

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpenFileRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("keep"), 0o644)
	os.Symlink(target, filepath.Join(dir, "link"))
	os.Symlink(filepath.Join(dir, "missing"), filepath.Join(dir, "dangling"))
	for _, name := range []string{"link", "dangling", "."} {
		f, err := OpenFile(context.Background(), filepath.Join(dir, name), nil)
		if !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v, want ErrRefused", name, err)
			f.Close()
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("target now holds %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("the dangling link's target was created")
	}
}

func TestOpenFileRegular(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "old")
	os.WriteFile(existing, []byte("old bytes"), 0o644)
	for _, tt := range []struct {
		name      string
		truncated bool
	}{{"new", false}, {"old", true}} {
		var notices []string
		f, err := OpenFile(context.Background(), filepath.Join(dir, tt.name), func(s string) { notices = append(notices, s) })
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		info, _ := f.Stat()
		f.Close()
		if info.Mode().Perm() != 0o600 || info.Size() != 0 {
			t.Errorf("%s: mode %v, size %d; want 0600 and empty", tt.name, info.Mode().Perm(), info.Size())
		}
		said := len(notices) == 1 && strings.Contains(notices[0], "truncated")
		if said != tt.truncated {
			t.Errorf("%s: notices %q", tt.name, notices)
		}
	}
}

func TestOpenFileFifo(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "p")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan struct{})
	go func() { <-waiting; cancel() }()
	_, err := OpenFile(ctx, fifo, func(string) { close(waiting) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("no reader, cancelled: %v", err)
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w, err := OpenFile(context.Background(), fifo, nil)
	if err != nil {
		t.Fatalf("with a reader: %v", err)
	}
	w.Close()
	if info, _ := os.Stat(fifo); info.Mode().Perm() != 0o644 {
		t.Errorf("the FIFO was chmodded to %v", info.Mode().Perm())
	}
}

func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	null, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer null.Close()
	for _, tt := range []struct {
		path string
		f    *os.File
		want bool
	}{
		{path, f, true},
		{filepath.Join(dir, ".", "out"), f, true},
		{filepath.Join(dir, "other"), f, false},
		{os.DevNull, null, false},
	} {
		if got := SameFile(tt.path, tt.f); got != tt.want {
			t.Errorf("SameFile(%s, %s) = %v, want %v", tt.path, tt.f.Name(), got, tt.want)
		}
	}
}
