package output

import (
	"fmt"
	"io"
	"strconv"

	"github.com/droptrace/droptrace/event"
)

// pathFormat puts the path id first (the skb address and the path's
// generation), so one packet's steps line up even without colour.
const pathFormat = "%-15s %-24s %-10s %-15s %-5s %-21s %1s %-21s %5s %s\n"

// colours are ANSI foreground colours, one per skb in turn.
var colours = []string{"\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[34m", "\x1b[35m", "\x1b[36m"}

const colourReset = "\x1b[0m"

// pathKey is a path's id: the skb address and the path's generation.
type pathKey struct{ skb, gen uint64 }

type pathText struct {
	w         io.Writer
	colour    bool
	wroteHead bool
	skbColour map[pathKey]string
	next      int
	line      []byte // reused, as in text
	clock     clockText
	ids       pathIDText
	cols      packetColsText
}

// NewPathText returns an event.Writer for path tracing: one line per step of an
// skb through the kernel, with its path id first (the skb address and the
// path's generation, as JSON's path) and, when colour is set (a
// terminal), one colour per path so each packet's path stands out.
// Drops show their reason and location after the function.
func NewPathText(w io.Writer, colour bool) event.Writer {
	return &pathText{w: w, colour: colour, skbColour: map[pathKey]string{}}
}

func (p *pathText) Write(ev *event.Event) error {
	if !p.wroteHead {
		head := fmt.Sprintf(pathFormat, "TIME", "PATH", "NETNS", "IFACE", "PROTO", "SRC", "", "DST", "LEN", "FUNC")
		if _, err := io.WriteString(p.w, head); err != nil {
			return fmt.Errorf("writing text header: %w", err)
		}
		p.wroteHead = true
	}
	c := p.colourOf(pathKey{ev.Skb, ev.Path})
	b := append(p.line[:0], c...)
	b = p.clock.append(b, ev.Time)
	b = append(b, ' ')
	b = append(b, p.ids.id(pathKey{ev.Skb, ev.Path})...)
	b = append(b, ' ')
	b = p.cols.append(b, ev)
	b = append(b, ' ')
	b = appendPathStep(b, ev)
	for _, frame := range ev.Stack {
		b = append(b, "\n    "...)
		b = append(b, frame...)
	}
	if c != "" {
		b = append(b, colourReset...)
	}
	p.line = append(b, '\n')
	if _, err := p.w.Write(p.line); err != nil {
		return fmt.Errorf("writing text event: %w", err)
	}
	return nil
}

func (p *pathText) Close() error { return nil }

// pathIDText keeps the PATH column of the last few paths: consecutive
// steps are mostly one path's, or a connection's two directions', and the
// address costs more to format than the rest of a line but the clock.
type pathIDText struct {
	recentText[pathKey]
}

// id returns the PATH column of key, "%-24s" of the skb address in hex
// and, for a step of a path, "-" and its generation.
func (c *pathIDText) id(key pathKey) []byte {
	return c.text(key, func(b []byte) []byte {
		b = append(b, "0x"...)
		b = strconv.AppendUint(b, key.skb, 16)
		if key.gen != 0 {
			b = append(b, '-')
			b = strconv.AppendUint(b, key.gen, 10)
		}
		return padTo(b, 0, 24)
	})
}

// appendPathStep appends what happened at this step: the function, and
// for the end of a path, how it ended.
func appendPathStep(b []byte, ev *event.Event) []byte {
	b = append(b, ev.Func...)
	switch ev.Kind {
	case event.KindDrop:
		b = append(b, " DROP "...)
		b = append(b, orDash(event.ReasonText(ev.Reason, ev.ReasonCode))...)
		b = append(b, ' ')
		b = append(b, orDash(ev.Location)...)
	case event.KindConsume:
		b = append(b, " CONSUMED"...)
	}
	return b
}

// colourOf gives each path a colour on first sight. The map is reset when
// large: paths end, so old entries are worthless anyway.
func (p *pathText) colourOf(skb pathKey) string {
	if !p.colour {
		return ""
	}
	if c, ok := p.skbColour[skb]; ok {
		return c
	}
	if len(p.skbColour) > 4096 {
		clear(p.skbColour)
	}
	c := colours[p.next%len(colours)]
	p.next++
	p.skbColour[skb] = c
	return c
}
