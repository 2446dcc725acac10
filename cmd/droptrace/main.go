// Command droptrace reports the packets the kernel drops: where, why, and
// which packet. See the README for the flags and the JSON schema.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/droptrace/droptrace/cli"
	"github.com/droptrace/droptrace/session"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(realMain(os.Args[1:]))
}

// realMain returns the exit status: 0 on success, on a signal and when
// stdout's reader goes away; 1 on a runtime failure, 2 on a usage error.
func realMain(args []string) int {
	cfg, fs, err := parseFlags(args)
	switch {
	case err != nil:
		return report(err)
	case cfg.help:
		fmt.Fprintf(os.Stdout, "Usage: droptrace [flags]\n\nReports the packets the kernel drops, why and where.\n\nFlags:\n%s", fs.FlagUsages())
		return 0
	case cfg.version:
		fmt.Fprintf(os.Stdout, "droptrace %s\n", version)
		return 0
	}
	// A closed pipe on stdout is an error the run loop sees (EPIPE), as
	// `tcpdump | head` ends, rather than a signal that kills droptrace
	// before it says what it reported.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	return report(run(ctx, cfg))
}

func report(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, session.ErrAbandoned):
		fmt.Fprintf(os.Stderr, "droptrace: %v\n", err)
		return 0
	case errors.Is(err, syscall.EPIPE):
		fmt.Fprintln(os.Stderr, "droptrace: the reader of the output went away")
		return 0
	}
	fmt.Fprintf(os.Stderr, "droptrace: %v\n", err)
	if cli.IsUsage(err) {
		return 2
	}
	return 1
}
