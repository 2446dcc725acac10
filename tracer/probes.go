package tracer

// Probes returns how many programs are attached to the kernel now.
func (t *Tracer) Probes() int {
	if t.link == nil {
		return 0
	}
	return 1
}
