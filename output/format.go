package output

import (
	"fmt"
	"io"
	"strings"

	"github.com/droptrace/droptrace/event"
)

// Mode is what a run writes: drop events (with --tcp events among them),
// path-tracing steps, or summaries.
type Mode int

// The modes a format serves.
const (
	ModeDrops Mode = iota
	ModePath
)

// Options tune a format; the zero value is the default.
type Options struct {
	Colour bool // path text: colour each packet's steps (on a terminal)
}

// format builds the writers of one --output format.
type format struct {
	name    string
	events  func(w io.Writer, mode Mode, opts Options) event.Writer
	summary func(w io.Writer) event.SummaryWriter
}

// formats are the --output formats; a new one is a file with its writers
// and a line here.
var formats = []format{
	{"text", textWriter, NewSummaryText},
	{"json", func(w io.Writer, _ Mode, _ Options) event.Writer { return NewJSON(w) }, NewSummaryJSON},
}

func textWriter(w io.Writer, mode Mode, opts Options) event.Writer {
	if mode == ModePath {
		return NewPathText(w, opts.Colour)
	}
	return NewText(w)
}

// Formats lists the names --output takes.
func Formats() []string {
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = f.name
	}
	return names
}

// New returns the writer of format name for mode, writing to w.
func New(name string, mode Mode, w io.Writer, opts Options) (event.Writer, error) {
	f, err := lookup(name)
	if err != nil {
		return nil, err
	}
	return f.events(w, mode, opts), nil
}

// NewSummary returns the summary writer of format name, writing to w.
func NewSummary(name string, w io.Writer) (event.SummaryWriter, error) {
	f, err := lookup(name)
	if err != nil {
		return nil, err
	}
	return f.summary(w), nil
}

func lookup(name string) (format, error) {
	for _, f := range formats {
		if f.name == name {
			return f, nil
		}
	}
	return format{}, fmt.Errorf("%q is not an output format (%s)", name, strings.Join(Formats(), ", "))
}
