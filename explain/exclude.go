package explain

import (
	"slices"
	"strings"

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
	var codes []uint32
	for _, arg := range args {
		for name := range strings.SplitSeq(arg, ",") {
			code, err := excludeCode(strings.TrimSpace(name), lookup)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(codes, code) {
				codes = append(codes, code)
			}
		}
	}
	return codes, nil
}

func excludeCode(name string, lookup filter.ReasonLookup) (uint32, error) {
	const flag = "--exclude-reason"
	switch {
	case name == "":
		return 0, &filter.Error{Flag: flag, Problem: "empty drop reason name"}
	case lookup == nil:
		return 0, &filter.Error{Flag: flag, Problem: "drop reason names are not available on this kernel"}
	}
	code, ok := lookup.Code(name)
	if !ok {
		return 0, &filter.Error{Flag: flag, Problem: "unknown drop reason \"" + name + "\" (see --list-reasons)"}
	}
	return code, nil
}
