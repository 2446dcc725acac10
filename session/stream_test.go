package session

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/droptrace/droptrace/event"
)

// events returns events of the given kinds, their Skb numbering them
// from 1.
func events(kinds ...event.Kind) []*event.Event {
	out := make([]*event.Event, len(kinds))
	for i, k := range kinds {
		out[i] = &event.Event{Kind: k, Skb: uint64(i + 1)}
	}
	return out
}

func seq(n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

func drops(n int) []*event.Event {
	return events(slices.Repeat([]event.Kind{event.KindDrop}, n)...)
}

func TestStreamRun(t *testing.T) {
	errWrite := errors.New("write /dev/stdout: broken pipe")
	errFlush := errors.New("flush: no space left on device")
	errRing := errors.New("reading ring buffer: bad")
	mixed := events(event.KindDrop, event.KindTrace, event.KindRetransmit, event.KindConsume,
		event.KindResetSent, event.KindDrop, event.Kind("kind9"), event.KindResetReceived, event.KindRetransmitSynack)
	tests := []struct {
		name       string
		events     []*event.Event
		count      int
		failWrite  int   // the write that fails, from 1
		failFlush  int   // the flush that fails, from 1
		runErr     error // the source's own error, once its events are sent
		endCtx     bool  // the run is ended (Ctrl-C) once every event was sent
		want       Written
		wantSkbs   []uint64
		wantErr    error
		wantFlush  bool // Flush was called
		wantStages []bool
	}{
		{name: "counts by kind", events: mixed, endCtx: true,
			want: Written{Drops: 2, TCP: 4, All: 9}, wantSkbs: seq(9), wantFlush: true},
		{name: "count limit", events: drops(10), count: 3,
			want: Written{Drops: 3, All: 3}, wantSkbs: seq(3)},
		{name: "count limit counts every kind", events: mixed, count: 4,
			want: Written{Drops: 1, TCP: 1, All: 4}, wantSkbs: seq(4)},
		{name: "count limit not reached", events: drops(2), count: 3, endCtx: true,
			want: Written{Drops: 2, All: 2}, wantSkbs: seq(2), wantFlush: true},
		{name: "count limit reached by the last event", events: drops(3), count: 3,
			want: Written{Drops: 3, All: 3}, wantSkbs: seq(3)},
		// Reported means flushed: events the output took but never
		// flushed are not reported.
		{name: "write error", events: drops(5), failWrite: 3,
			want: Written{}, wantSkbs: seq(2), wantErr: errWrite},
		{name: "write error on the last event", events: drops(2), failWrite: 2,
			want: Written{}, wantSkbs: seq(1), wantErr: errWrite},
		{name: "flush error", events: drops(2), failFlush: 1,
			want: Written{}, wantSkbs: seq(2), wantErr: errFlush, wantFlush: true},
		{name: "source error after its events", events: drops(4), runErr: errRing,
			want: Written{Drops: 4, All: 4}, wantSkbs: seq(4), wantErr: errRing, wantFlush: true},
		{name: "no events", endCtx: true},
	}
	for _, tt := range tests {
		for _, staged := range []bool{false, true} {
			name := tt.name
			if staged {
				name += " through a stage"
			}
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				src := &fakeSource{events: tt.events, runErr: tt.runErr}
				if tt.endCtx {
					src.afterAll = cancel
				}
				out := &fakeWriter{failAt: tt.failWrite, err: errWrite}
				flush := &counter{failAt: tt.failFlush, err: errFlush}
				s := &Stream{Source: src, Out: out, Count: tt.count, Flush: flush.call}
				var stage *fakeStage
				if staged {
					stage = newFakeStage(len(tt.events) + 1)
					s.Stage = stage
				}
				var got Written
				var err error
				within(t, "Stream.Run", func() { got, err = s.Run(ctx) })
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err %v, want %v", err, tt.wantErr)
				}
				if got != tt.want {
					t.Errorf("Written %+v, want %+v", got, tt.want)
				}
				if got, want := out.skbs(), tt.wantSkbs; !slices.Equal(got, want) {
					t.Errorf("wrote %v, want %v", got, want)
				}
				if tt.wantFlush && flush.calls() == 0 {
					t.Errorf("Flush was not called")
				}
				// With a stage, the writes and flushes happen in Drain's
				// goroutine: the reader must not flush the same output.
				if staged && src.gotIdle {
					t.Errorf("the source was given an idle function besides the stage's")
				}
			})
		}
	}
}

// TestStreamStageDrainsBeforeReturn ends the run while the stage still
// holds events: Run returns only once they are written.
func TestStreamStageDrainsBeforeReturn(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stage := newFakeStage(100)
	gate := make(chan struct{})
	out := &gatedWriter{gate: gate, fakeWriter: &fakeWriter{}}
	src := &fakeSource{events: drops(50), afterAll: func() { cancel(); close(gate) }}
	s := &Stream{Source: src, Stage: stage, Out: out, Flush: func() error { return nil }}
	var got Written
	var err error
	within(t, "Stream.Run", func() { got, err = s.Run(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	if got.All != 50 || !slices.Equal(out.skbs(), seq(50)) {
		t.Errorf("wrote %d events (%v), want 50 in order", got.All, out.skbs())
	}
}

// gatedWriter writes only once gate is closed: the stage fills up first.
type gatedWriter struct {
	*fakeWriter
	gate chan struct{}
}

func (w *gatedWriter) Write(ev *event.Event) error {
	<-w.gate
	return w.fakeWriter.Write(ev)
}

// TestStreamStageCountStopsSource stops at the count while the source
// has more to send: the source sees the stop and ends without an error.
func TestStreamStageCountStopsSource(t *testing.T) {
	stage := newFakeStage(1)
	src := &fakeSource{events: drops(1000)}
	out := &fakeWriter{}
	s := &Stream{Source: src, Stage: stage, Out: out, Count: 5, Flush: func() error { return nil }}
	var got Written
	var err error
	within(t, "Stream.Run", func() { got, err = s.Run(context.Background()) })
	if err != nil || got.All != 5 || !slices.Equal(out.skbs(), seq(5)) {
		t.Errorf("Run: %+v, err %v, wrote %v; want 5 events, no error", got, err, out.skbs())
	}
	if src.emitted == len(src.events) {
		t.Errorf("the source sent all %d events past the count", src.emitted)
	}
}

func TestStreamSkip(t *testing.T) {
	for _, staged := range []bool{false, true} {
		w := &fakeWriter{}
		src := &fakeSource{events: drops(6)}
		ctx, cancel := context.WithCancel(context.Background())
		src.afterAll = cancel
		s := &Stream{Source: src, Out: w, Skip: func(ev *event.Event) bool { return ev.Skb%2 == 0 }}
		if staged {
			s.Stage = NewAnnotate(8)
		}
		var n Written
		var err error
		within(t, "Stream.Run", func() { n, err = s.Run(ctx) })
		if err != nil || n.All != 3 || s.Skipped() != 3 {
			t.Errorf("staged %v: Run = %+v, %v, skipped %d; want 3 written, 3 skipped", staged, n, err, s.Skipped())
		}
		if got := w.skbs(); !slices.Equal(got, []uint64{1, 3, 5}) {
			t.Errorf("staged %v: wrote %v, want [1 3 5]", staged, got)
		}
	}
}
