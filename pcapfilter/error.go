package pcapfilter

import (
	"fmt"
	"strings"
)

// Error is a bad or unsupported filter expression. It carries the
// expression and the byte offset of the offending token so the command can
// point at it; main prints it and exits with the usage status.
type Error struct {
	Expr    string // the expression as the user wrote it
	Pos     int    // byte offset into Expr of the offending token
	Problem string // what is wrong there
}

// Error renders two lines: the expression, then a caret under the offending
// byte followed by the problem. Tabs before the position are kept so the
// caret lines up in a terminal.
func (e *Error) Error() string {
	return e.Expr + "\n" + e.caretIndent() + "^ " + e.Problem
}

func (e *Error) caretIndent() string {
	pos := min(max(e.Pos, 0), len(e.Expr))
	var b strings.Builder
	for _, r := range e.Expr[:pos] {
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func errorAt(expr string, pos int, format string, args ...any) *Error {
	return &Error{Expr: expr, Pos: pos, Problem: fmt.Sprintf(format, args...)}
}
