package kernel

import (
	"sync"

	"github.com/cilium/ebpf/btf"
)

// LazyDropReasons names drop reasons read from BTF in the background once
// Start is called. Path tracing needs a reason only to print a path's
// drop, so it reads them after its probes are attached instead of before:
// that read is a second or more of CPU under emulation, which would
// otherwise delay the first traced packet. Name waits for the read.
type LazyDropReasons struct {
	base  *btf.Spec
	onErr func(error)
	once  sync.Once
	done  chan struct{}
	r     *DropReasons
}

// NewLazyDropReasons reads base's (vmlinux's) and the modules' reasons
// when started; onErr, if not nil, hears once why they could not be read,
// in which case reasons are named by their code.
func NewLazyDropReasons(base *btf.Spec, onErr func(error)) *LazyDropReasons {
	return &LazyDropReasons{base: base, onErr: onErr, done: make(chan struct{})}
}

// Start begins the read, once; later calls do nothing.
func (l *LazyDropReasons) Start() {
	l.once.Do(func() {
		go func() {
			defer close(l.done)
			r, err := DropReasonsFrom(l.base)
			if err != nil {
				if l.onErr != nil {
					l.onErr(err)
				}
				r = &DropReasons{} // names every code UNKNOWN(0x...)
			}
			l.r = r
		}()
	})
}

// Name names code as DropReasons.Name does, starting the read if nothing
// did and waiting for it.
func (l *LazyDropReasons) Name(code uint32) string {
	l.Start()
	<-l.done
	return l.r.Name(code)
}
