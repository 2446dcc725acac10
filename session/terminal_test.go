package session

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestProgressBar(t *testing.T) {
	var b strings.Builder
	bar := ProgressBar(&b)
	bar(1, 4) // the first call always draws
	bar(4, 4) // and so does the last
	want := "\rdroptrace: attaching [#######.......................] 1/4" +
		"\rdroptrace: attaching [##############################] 4/4\r\x1b[K"
	if got := b.String(); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	b.Reset()
	ProgressBar(&b)(0, 0) // nothing to attach
	if got, want := b.String(), "\rdroptrace: attaching [..............................] 0/0\r\x1b[K"; got != want {
		t.Errorf("no probes: got %q, want %q", got, want)
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Errorf("a regular file is a terminal")
	}
}

func TestWithDuration(t *testing.T) {
	ctx, cancel := WithDuration(context.Background(), 0)
	if _, ok := ctx.Deadline(); ok {
		t.Errorf("--duration 0 set a deadline")
	}
	cancel()
	if ctx.Err() == nil {
		t.Errorf("cancel did not end the context")
	}
	before := time.Now()
	ctx, cancel = WithDuration(context.Background(), time.Hour)
	defer cancel()
	if d, ok := ctx.Deadline(); !ok || d.Before(before.Add(time.Hour)) {
		t.Errorf("--duration 1h: deadline %v (%v), want an hour from now", d, ok)
	}
}
