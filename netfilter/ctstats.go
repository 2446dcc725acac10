package netfilter

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/droptrace/droptrace/nsfs"
)

// conntrackInvalid returns how many packets conntrack found invalid in
// the namespace so far (the invalid and icmp_error columns of
// /proc/net/stat/nf_conntrack, summed over CPUs). While it does not move,
// no packet that conntrack saw was invalid, so a "ct state invalid" rule
// after conntrack's hook matched none.
//
// /proc/net shows the reading thread's namespace, so the file is read
// from a thread moved into the namespace, which then exits.
func (r *Reader) conntrackInvalid() (uint64, error) {
	return nsfs.Do(r.ns, func() (uint64, error) {
		b, err := os.ReadFile("/proc/thread-self/net/stat/nf_conntrack")
		if err != nil {
			return 0, err
		}
		return parseConntrackStat(string(b))
	})
}

// parseConntrackStat sums the invalid and icmp_error columns over CPUs.
func parseConntrackStat(s string) (uint64, error) {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) < 2 {
		return 0, fmt.Errorf("conntrack stat: no CPU lines")
	}
	cols := map[string]int{}
	for i, name := range strings.Fields(lines[0]) {
		cols[name] = i
	}
	inv, ok1 := cols["invalid"]
	icmp, ok2 := cols["icmp_error"]
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("conntrack stat: no invalid or icmp_error column")
	}
	var sum uint64
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		for _, c := range []int{inv, icmp} {
			if c >= len(f) {
				return 0, fmt.Errorf("conntrack stat: short line %q", line)
			}
			v, err := strconv.ParseUint(f[c], 16, 64)
			if err != nil {
				return 0, fmt.Errorf("conntrack stat: %w", err)
			}
			sum += v
		}
	}
	return sum, nil
}
