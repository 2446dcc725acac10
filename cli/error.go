package cli

import (
	"errors"
	"fmt"

	"github.com/droptrace/droptrace/filter"
)

// Error is a bad command line: one line on stderr, exit status 2.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

// Usagef returns an *Error; the message starts with the flag it is about.
func Usagef(format string, args ...any) error {
	return &Error{msg: fmt.Sprintf(format, args...)}
}

// IsUsage says whether err is the user's to fix on the command line: an
// *Error, a *filter.Error, or an error that says so itself (an output path
// droptrace refuses).
func IsUsage(err error) bool {
	var ue *Error
	var fe *filter.Error
	var marked interface{ UsageError() bool }
	return errors.As(err, &ue) || errors.As(err, &fe) || (errors.As(err, &marked) && marked.UsageError())
}
