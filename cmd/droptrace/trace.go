package main

import (
	"regexp"

	"github.com/droptrace/droptrace/cli"
	"github.com/droptrace/droptrace/tracer/attach"
)

// traceOptions are the flags of path tracing (--trace).
type traceOptions struct {
	enabled   bool
	backend   string
	funcs     string
	listFuncs bool
	stack     bool

	// Set by validate from backend and funcs.
	parsedBackend attach.Backend
	funcsRE       *regexp.Regexp // nil when funcs is ""
}

func (o *traceOptions) validate(cfg *config) error {
	b, err := attach.ParseBackend(o.backend)
	if err != nil {
		return cli.Usagef("--backend: %v", err)
	}
	re, err := regexp.Compile(o.funcs)
	if err != nil {
		return cli.Usagef("--filter-func: %q is not a regular expression: %v", o.funcs, err)
	}
	o.parsedBackend = b
	if o.funcs != "" {
		o.funcsRE = re
	}
	if !o.enabled {
		return nil
	}
	switch {
	case len(cfg.filters.Reasons) > 0:
		return cli.Usagef("--filter-reason: not supported with --trace (a path's reason is known only at its end)")
	case cfg.pcap != "":
		return cli.Usagef("--output-pcap: not supported with --trace")
	case cfg.summary:
		return cli.Usagef("--summary: not supported with --trace (a path is a list of events)")
	case cfg.tcp:
		return cli.Usagef("--tcp: not supported with --trace; run them as two droptraces")
	case cfg.annotate.Explain || len(cfg.filters.Exclude) > 0:
		return cli.Usagef("--explain, --exclude-reason: not supported with --trace (a path's reason is known only at its end)")
	}
	return nil
}
