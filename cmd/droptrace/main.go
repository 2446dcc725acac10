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

	"github.com/droptrace/droptrace/filter"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(realMain(os.Args[1:]))
}

// realMain returns the exit status: 0 on success and on Ctrl-C, 1 on a
// runtime failure, 2 on a usage error.
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return report(run(ctx, cfg))
}

func report(err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(os.Stderr, "droptrace: %v\n", err)
	var ue *usageError
	var fe *filter.Error
	if errors.As(err, &ue) || errors.As(err, &fe) {
		return 2
	}
	return 1
}
