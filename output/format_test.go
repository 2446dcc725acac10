package output

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

func TestNewPicksTheFormatOfTheMode(t *testing.T) {
	ev := &event.Event{Time: time.Unix(0, 0), Kind: event.KindDrop, Func: "ip_rcv", Reason: "NO_SOCKET"}
	tests := []struct {
		format string
		mode   Mode
		want   string // a piece only that format and mode writes
	}{
		{"text", ModeDrops, "REASON"},
		{"text", ModePath, "ip_rcv DROP NO_SOCKET"},
		{"json", ModeDrops, `"reason":"NO_SOCKET"`},
		{"json", ModePath, `"func":"ip_rcv"`},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		w, err := New(tt.format, tt.mode, &b, Options{})
		if err != nil {
			t.Fatalf("New(%q): %v", tt.format, err)
		}
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tt.want) {
			t.Errorf("New(%q, %d) wrote %q, want it to contain %q", tt.format, tt.mode, b.String(), tt.want)
		}
	}
}

func TestNewRejectsUnknownFormats(t *testing.T) {
	if _, err := New("xml", ModeDrops, nil, Options{}); err == nil || !strings.Contains(err.Error(), "text, json") {
		t.Errorf("New(xml) error = %v, want one listing text, json", err)
	}
	if _, err := NewSummary("xml", nil); err == nil {
		t.Error("NewSummary(xml) succeeded")
	}
	if got := strings.Join(Formats(), ","); got != "text,json" {
		t.Errorf("Formats() = %s", got)
	}
}
