package explain

import (
	"github.com/droptrace/droptrace/filter"
)

// ParseExcludeReasons resolves --exclude-reason values (repeated flags,
// comma-separated lists, or both) to reason codes, refusing names the
// running kernel does not have as --filter-reason does. Every error is a
// *filter.Error naming --exclude-reason.
//
// The kernel side is meant to mirror the reason filter: a second hash map
// (reason_exclude) whose hit returns before anything is copied, behind a
// volatile const switch the verifier prunes when the flag is not given.
func ParseExcludeReasons(args []string, lookup filter.ReasonLookup) ([]uint32, error) {
	return filter.ParseReasons("--exclude-reason", args, lookup)
}
