package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/pcapfilter"
)

// Error is a bad command line: one line on stderr, exit status 2.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

// Usagef returns an *Error; the message starts with the flag it is about.
func Usagef(format string, args ...any) error {
	return &Error{msg: fmt.Sprintf(format, args...)}
}

// IsUsage says whether err is the user's to fix on the command line: an
// *Error, a *filter.Error, a bad filter expression (*pcapfilter.Error), or
// an error that says so itself (an output path droptrace refuses).
func IsUsage(err error) bool {
	var ue *Error
	var fe *filter.Error
	var pe *pcapfilter.Error
	var marked interface{ UsageError() bool }
	return errors.As(err, &ue) || errors.As(err, &fe) || errors.As(err, &pe) ||
		(errors.As(err, &marked) && marked.UsageError())
}

// Message is err as droptrace prints it, after prefix. A bad filter
// expression is two lines, the expression and a caret under the offending
// token, which is moved right by the prefix's width so that it still
// points at the token.
func Message(prefix string, err error) string {
	var pe *pcapfilter.Error
	if !errors.As(err, &pe) || err.Error() != pe.Error() || strings.Contains(pe.Expr, "\n") {
		return prefix + err.Error()
	}
	lines := strings.SplitN(pe.Error(), "\n", 2)
	indent := strings.Repeat(" ", len(prefix))
	return prefix + lines[0] + "\n" + indent + lines[1]
}
