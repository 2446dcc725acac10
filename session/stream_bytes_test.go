package session

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

// lineWriter writes a 100-byte line per event.
type lineWriter struct{ w io.Writer }

func (l lineWriter) Write(*event.Event) error {
	_, err := io.WriteString(l.w, strings.Repeat("x", 99)+"\n")
	return err
}
func (l lineWriter) Close() error { return nil }

// failAfter takes n bytes, then fails.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) <= f.n {
		f.n -= len(p)
		return len(p), nil
	}
	n := f.n
	f.n = 0
	return n, errors.New("no space left on device")
}

// blocked never returns from Write.
type blocked struct{}

func (blocked) Write([]byte) (int, error) { select {} }

func TestStreamReportsWhatReachedTheFile(t *testing.T) {
	tests := []struct {
		name       string
		file       io.Writer
		events     int
		want       uint64
		wantErr    bool
		stopBefore bool
	}{
		{"all written", &failAfter{n: 1 << 20}, 10, 10, false, true},
		{"full after 2.5 events", &failAfter{n: 250}, 10, 2, true, false},
		{"full at once", &failAfter{n: 0}, 10, 0, true, false},
	}
	for _, tt := range tests {
		buf := NewBuffer(tt.file, 128)
		s := &Stream{Source: &fakeSource{events: drops(tt.events)}, Out: lineWriter{buf}, Buf: buf}
		ctx, cancel := context.WithCancel(context.Background())
		if tt.stopBefore {
			cancel()
		}
		n, err := s.Run(ctx)
		cancel()
		if n.Drops != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s: %d reported, error %v; want %d, error %v", tt.name, n.Drops, err, tt.want, tt.wantErr)
		}
	}
}

func TestStreamAbandonsABlockedOutput(t *testing.T) {
	buf := NewBuffer(blocked{}, 128)
	s := &Stream{Source: &fakeSource{events: drops(10)}, Out: lineWriter{buf}, Buf: buf}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := s.Run(ctx)
	if !errors.Is(err, ErrAbandoned) || n.Drops != 0 {
		t.Errorf("%d reported, error %v; want 0 and ErrAbandoned", n.Drops, err)
	}
}

// slowFile takes every write, each after a pause: a reader that keeps up
// with a trickle but not with a backlog.
type slowFile struct {
	bytes.Buffer
	pause time.Duration
}

func (f *slowFile) Write(p []byte) (int, error) {
	time.Sleep(f.pause)
	return f.Buffer.Write(p)
}

// TestStreamCutsASlowOutputAtAWholeEvent stops a run whose output still
// takes events but more slowly than the backlog asks: it must end within
// a second, at a whole line, with what it wrote reported.
func TestStreamCutsASlowOutputAtAWholeEvent(t *testing.T) {
	file := &slowFile{pause: time.Millisecond}
	buf := NewBuffer(file, 150) // a line and a half: bufio writes split lines
	s := &Stream{Source: &fakeSource{events: drops(5000)}, Out: lineWriter{buf}, Buf: buf}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	n, err := s.Run(ctx)
	took := time.Since(start)
	if !errors.Is(err, ErrCut) {
		t.Fatalf("error %v, want ErrCut", err)
	}
	if took > StopLimit+StallGrace {
		t.Errorf("stopped after %v, want within %v", took, StopLimit+StallGrace)
	}
	out := file.String()
	if lines := strings.Count(out, "\n"); len(out) != 100*lines || uint64(lines) != n.Drops || lines == 0 {
		t.Errorf("wrote %d bytes, %d lines, reported %d; want whole 100-byte lines, each reported", len(out), lines, n.Drops)
	}
}
