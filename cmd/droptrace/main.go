// Command droptrace reports the packets the kernel drops: where, why, and
// which packet. See the README for the flags and the JSON schema.
package main

import (
	"context"
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
		return session.ExitStatus(os.Stderr, err)
	case cfg.help:
		fmt.Fprintf(os.Stdout, "Usage: droptrace [flags] [expression]\n\nReports the packets the kernel drops, why and where.\n\nFlags:\n%s\n%s\n", fs.FlagUsages(), cli.ExprHelp)
		return 0
	case cfg.version:
		fmt.Fprintf(os.Stdout, "droptrace %s\n", version)
		return 0
	}
	// A closed pipe on stdout is an error the run loop sees (EPIPE), as
	// `tcpdump | head` ends, rather than a signal that kills droptrace
	// before it says what it reported.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), stopSignals()...)
	defer stop()
	defer startProfile()()
	return session.ExitStatus(os.Stderr, run(ctx, cfg))
}

// stopSignals are the signals that end a run. SIGHUP is left alone when
// droptrace started with it ignored: that is what `nohup droptrace` asks.
// SIGINT is handled even then, since shells ignore it in background jobs
// of scripts, which stop droptrace with `kill -INT`.
func stopSignals() []os.Signal {
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	return sigs
}
