package tracer

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Timings are how long the phases of opening and closing a path tracer
// took, in the order they ended; make bench prints them, to say where
// ready and detach times go.
type Timings struct {
	mu     sync.Mutex
	phases []phase
}

type phase struct {
	name string
	d    time.Duration
}

// since records phase name as begun at start and ended now.
func (t *Timings) since(name string, start time.Time) {
	d := time.Since(start)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.phases = append(t.phases, phase{name, d})
}

// String lists the phases as name=milliseconds, space separated.
func (t *Timings) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	parts := make([]string, len(t.phases))
	for i, p := range t.phases {
		parts[i] = fmt.Sprintf("%s=%d", p.name, p.d.Milliseconds())
	}
	return strings.Join(parts, " ")
}
