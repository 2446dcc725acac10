package event

// Explain says why a drop happened in plain words, what the system showed
// when it was looked at shortly after the drop, and what to do about it
// (--explain).
type Explain struct {
	Cause    string     // why the kernel dropped the packet, e.g. "no socket listens on UDP port 9999"
	Evidence []Evidence // what was read from the system, in the order it reads best; nil when nothing was looked up
	Fix      string     // what to change, in plain words
	Doc      string     // a link to the kernel documentation that covers it; "" when there is none
}

// Evidence is one fact read from the live system, e.g. {"rp_filter.all", "2"}.
type Evidence struct {
	Key   string
	Value string
}
