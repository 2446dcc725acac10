package session

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/droptrace/droptrace/event"
)

// markAnnotator writes its name into each event's Func, so the order in
// which annotators ran shows in the written events. A gate, when set,
// holds the first annotation until it is closed.
type markAnnotator struct {
	name string
	gate chan struct{}
	once sync.Once
}

func (m *markAnnotator) Annotate(ev *event.Event) {
	if m.gate != nil {
		m.once.Do(func() { <-m.gate })
	}
	ev.Func += m.name
}

func TestAnnotateRunsEveryAnnotatorInOrder(t *testing.T) {
	a := NewAnnotate(8, &markAnnotator{name: "a"}, &markAnnotator{name: "b"})
	w := &fakeWriter{}
	src := &fakeSource{events: drops(5)}
	ctx, cancel := context.WithCancel(context.Background())
	src.afterAll = cancel
	s := &Stream{Source: src, Stage: a, Out: w, Flush: func() error { return nil }}
	var n Written
	var err error
	within(t, "Stream.Run", func() { n, err = s.Run(ctx) })
	if err != nil || n.All != 5 {
		t.Fatalf("Run = %+v, %v; want 5 events", n, err)
	}
	for _, ev := range w.events {
		if ev.Func != "ab" {
			t.Errorf("event %d annotated %q, want \"ab\"", ev.Skb, ev.Func)
		}
	}
	if got := w.skbs(); !slices.Equal(got, seq(5)) {
		t.Errorf("order %v, want %v", got, seq(5))
	}
	if a.Skipped() != 0 {
		t.Errorf("Skipped() = %d, want 0", a.Skipped())
	}
}

// TestAnnotateSkipsPastTheBacklog holds the first look-up while events
// pile up: those beyond the backlog pass through unannotated, counted,
// and every event is still written once, in order.
func TestAnnotateSkipsPastTheBacklog(t *testing.T) {
	gate := make(chan struct{})
	a := NewAnnotate(4, &markAnnotator{name: "x", gate: gate})
	for _, ev := range drops(8) {
		if err := a.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	close(gate)
	var got []event.Event
	err := a.Drain(func(ev *event.Event) error { got = append(got, *ev); return nil }, nil)
	if err != nil || len(got) != 8 {
		t.Fatalf("Drain: %v, %d events; want 8", err, len(got))
	}
	var annotated int
	for i, ev := range got {
		if ev.Skb != uint64(i+1) {
			t.Errorf("event %d is skb %d: out of order", i, ev.Skb)
		}
		if ev.Func == "x" {
			annotated++
		}
	}
	if skipped := a.Skipped(); skipped == 0 || uint64(annotated)+skipped != 8 {
		t.Errorf("%d annotated, %d skipped; want some skipped and 8 in all", annotated, skipped)
	}
}

func TestChainPassesThroughEveryStage(t *testing.T) {
	first := NewAnnotate(8, &markAnnotator{name: "1"})
	second := NewAnnotate(8, &markAnnotator{name: "2"})
	w := &fakeWriter{}
	src := &fakeSource{events: drops(6)}
	ctx, cancel := context.WithCancel(context.Background())
	src.afterAll = cancel
	s := &Stream{Source: src, Stage: Chain(first, newFakeStage(2), second), Out: w, Flush: func() error { return nil }}
	var n Written
	var err error
	within(t, "Stream.Run", func() { n, err = s.Run(ctx) })
	if err != nil || n.All != 6 {
		t.Fatalf("Run = %+v, %v; want 6 events", n, err)
	}
	for _, ev := range w.events {
		if ev.Func != "12" {
			t.Errorf("event %d annotated %q, want \"12\"", ev.Skb, ev.Func)
		}
	}
	if got := w.skbs(); !slices.Equal(got, seq(6)) {
		t.Errorf("order %v, want %v", got, seq(6))
	}
}

// TestChainStopsOnAWriteError: a failed write ends the run even though the
// source would wait for more events forever.
func TestChainStopsOnAWriteError(t *testing.T) {
	errWrite := errors.New("write: broken pipe")
	w := &fakeWriter{failAt: 2, err: errWrite}
	src := &fakeSource{events: drops(4)}
	s := &Stream{Source: src, Stage: Chain(NewAnnotate(8), NewAnnotate(8)), Out: w, Flush: func() error { return nil }}
	var err error
	within(t, "Stream.Run", func() { _, err = s.Run(context.Background()) })
	if !errors.Is(err, errWrite) {
		t.Errorf("Run error %v, want %v", err, errWrite)
	}
	if len(w.events) != 1 {
		t.Errorf("%d events written, want 1", len(w.events))
	}
}

func TestChainOfOneIsTheStage(t *testing.T) {
	a := NewAnnotate(1)
	if Chain(a) != Stage(a) {
		t.Error("Chain(a) is not a")
	}
}
