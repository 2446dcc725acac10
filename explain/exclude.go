package explain

import (
	"github.com/droptrace/droptrace/filter"
)

// ParseExcludeReasons resolves --exclude-reason values (repeated flags,
// comma-separated lists, or both) to reason codes, refusing names the
// running kernel does not have as --filter-reason does. Every error is a
// *filter.Error naming --exclude-reason.
//
// The codes go to filter.Spec.Exclude: the drop program's reason_exclude
// map, checked before anything is read, copied or counted, behind a
// volatile const the verifier prunes when the flag is not given.
func ParseExcludeReasons(args []string, lookup filter.ReasonLookup) ([]uint32, error) {
	return filter.ParseReasons("--exclude-reason", args, lookup)
}
