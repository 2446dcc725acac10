package session

import (
	"testing"

	"github.com/droptrace/droptrace/event"
)

// nopAnnotator looks nothing up.
type nopAnnotator struct{}

func (nopAnnotator) Annotate(*event.Event) {}

// TestAnnotateAllocs checks that events passing the annotation stage
// cost no allocation: they are copied into reused batches.
func TestAnnotateAllocs(t *testing.T) {
	a := NewAnnotate(DefaultBacklog, nopAnnotator{})
	written := 0
	done := make(chan error, 1)
	go func() {
		done <- a.Drain(func(*event.Event) error { written++; return nil }, nil)
	}()
	ev := drops(1)[0]
	const perRun = 4 * maxBatch
	add := func() {
		for range perRun {
			if err := a.Add(ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// Allocate every batch first: the worker may be slower than Add.
	for range 2 * DefaultBacklog / maxBatch {
		add()
	}
	if n := testing.AllocsPerRun(50, add); n != 0 {
		t.Errorf("%v allocations per %d events, want 0", n, perRun)
	}
	a.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := (51 + 2*DefaultBacklog/maxBatch) * perRun; written != want {
		t.Errorf("%d events written, want %d", written, want)
	}
}

func BenchmarkAnnotate(b *testing.B) {
	a := NewAnnotate(DefaultBacklog, nopAnnotator{})
	done := make(chan error, 1)
	go func() { done <- a.Drain(func(*event.Event) error { return nil }, nil) }()
	ev := drops(1)[0]
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Add(ev); err != nil {
			b.Fatal(err)
		}
	}
	a.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
