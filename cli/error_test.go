package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/droptrace/droptrace/pcapfilter"
)

func TestMessageCaret(t *testing.T) {
	_, err := pcapfilter.CompileBPF("tcp and prt 80", pcapfilter.Ethernet)
	if err == nil {
		t.Fatal("no error for a bad expression")
	}
	if !IsUsage(err) {
		t.Error("a bad expression is not a usage error")
	}
	got := Message("droptrace: ", err)
	lines := strings.Split(got, "\n")
	if len(lines) != 2 || lines[0] != "droptrace: tcp and prt 80" {
		t.Fatalf("got %q, want the expression then a caret line", got)
	}
	if col, want := strings.Index(lines[1], "^"), len("droptrace: tcp and "); col != want {
		t.Errorf("caret at %d, want %d under \"prt\":\n%s", col, want, got)
	}
	wrapped := fmt.Errorf("loading: %w", err)
	if got := Message("droptrace: ", wrapped); got != "droptrace: "+wrapped.Error() {
		t.Errorf("a wrapped expression error is reworded: %q", got)
	}
	if got := Message("x: ", errors.New("plain")); got != "x: plain" {
		t.Errorf("got %q", got)
	}
}
