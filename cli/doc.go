// Package cli holds the rules of droptrace's command line that are data
// rather than code: which flags refuse an empty value, which may be given
// only once, which have effect only in a mode (and so are refused
// without it), which cannot be combined, and the usage error that main prints as one line before
// exiting with status 2.
//
// It must not define droptrace's flags, read the system or attach
// anything: cmd/droptrace defines the flags and the table of rules, and
// this package applies the table to a parsed flag set.
package cli
