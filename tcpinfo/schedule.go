package tcpinfo

import "time"

// schedule returns the look-up the event of flow f waits for: the flow's
// look-up that has not started yet, or a new one, started no sooner than
// Interval after the flow's last. Each tcp_info is thus read after the
// event it annotates. It returns a query that fails with errQueueFull
// when the queue has no room.
func (a *Annotator) schedule(f Flow, cookie uint64, now time.Time) *query {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sweep(now)
	st := a.flows[f]
	if st == nil {
		st = &flowState{}
		a.flows[f] = st
	}
	if st.next != nil {
		a.stats.Coalesced++
		return st.next
	}
	q := &query{flow: f, cookie: cookie, done: make(chan struct{})}
	st.next = q
	if due := st.lastStart.Add(a.cfg.Interval); due.After(now) {
		time.AfterFunc(due.Sub(now), func() { a.enqueueLater(q) })
		return q
	}
	if !a.trySend(q) {
		a.refuse(st, q)
	}
	return q
}

func (a *Annotator) trySend(q *query) bool {
	select {
	case a.jobs <- q:
		return true
	default:
		return false
	}
}

func (a *Annotator) enqueueLater(q *query) {
	if a.ctx.Err() == nil && a.trySend(q) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refuse(a.flows[q.flow], q)
}

// refuse fails q for lack of room. a.mu is held.
func (a *Annotator) refuse(st *flowState, q *query) {
	if st != nil && st.next == q {
		st.next = nil
	}
	q.err = errQueueFull
	close(q.done)
}

// work runs look-ups until the Annotator stops.
func (a *Annotator) work() {
	for {
		select {
		case q := <-a.jobs:
			a.start(q)
			q.info, q.err = a.lookup(q.flow, q.cookie)
			close(q.done)
		case <-a.ctx.Done():
			return
		}
	}
}

// start notes that q's look-up begins: events from now on need a new one.
func (a *Annotator) start(q *query) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stats.Lookups++
	if st := a.flows[q.flow]; st != nil {
		st.lastStart = a.now()
		if st.next == q {
			st.next = nil
		}
	}
}

// sweep forgets flows whose spacing no longer constrains anything, once a
// second, so the map holds only recently active flows. a.mu is held.
func (a *Annotator) sweep(now time.Time) {
	if now.Sub(a.lastSweep) < time.Second {
		return
	}
	a.lastSweep = now
	for f, st := range a.flows {
		if st.next == nil && now.Sub(st.lastStart) > a.cfg.Interval {
			delete(a.flows, f)
		}
	}
}
