package tracer

// Probes returns how many programs are attached to the kernel now: the
// drop program, with --tcp one per TCP tracepoint, and the nft verdict
// program when it is attached.
func (t *Tracer) Probes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	if t.link != nil {
		n++
	}
	if t.tcp != nil {
		n += len(t.tcp.links)
	}
	if t.nft != nil && t.nft.link != nil {
		n++
	}
	return n
}
