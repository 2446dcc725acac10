package session

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/droptrace/droptrace/cli"
)

// ExitStatus says how a run ended, on w, and returns droptrace's exit
// status: 0 on success, after a signal, when an output was abandoned to
// stop in time or cut at a whole event, and when stdout's reader went
// away (as `tcpdump | head`); 2 on a usage error; 1 on any other failure.
func ExitStatus(w io.Writer, err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrAbandoned), errors.Is(err, ErrCut):
		fmt.Fprintf(w, "droptrace: %v\n", err)
		return 0
	case errors.Is(err, syscall.EPIPE):
		fmt.Fprintln(w, "droptrace: the reader of the output went away")
		return 0
	}
	fmt.Fprintln(w, cli.Message("droptrace: ", err))
	if cli.IsUsage(err) {
		return 2
	}
	return 1
}
