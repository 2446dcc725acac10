package attach

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// Attachment is a set of attached probes. Close detaches all of them,
// also when attaching was interrupted half-way.
type Attachment struct {
	// Workers bounds parallel detaches in Close; 0 means DetachWorkers.
	Workers int

	mu     sync.Mutex
	links  []link.Link
	progs  []*ebpf.Program // loaded per target (fentry, tp_btf), closed after the links
	closed uint64          // the recursion misses of progs Close closed
}

func (a *Attachment) add(l link.Link, p *ebpf.Program) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.links = append(a.links, l)
	if p != nil {
		a.progs = append(a.progs, p)
	}
}

// Add adds a link attached elsewhere, so that Close detaches it.
func (a *Attachment) Add(l link.Link) { a.add(l, nil) }

// Len returns the number of links.
func (a *Attachment) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.links)
}

// DetachWorkers bounds parallel detaches. Each kprobe or trampoline
// detach waits for RCU grace periods, some outside any kernel lock:
// doing many at once lets those overlap.
const DetachWorkers = 64

// KprobeDetachWorkers bounds parallel kprobe detaches: a kprobe's detach
// also holds the kernel's event_mutex through a grace period, and more
// closers at once only wait on it (148 kprobes, Debian 6.12 under qemu,
// two VM runs: 7.0 to 8.0 s with 64 at once in four tries, 6.0 to 6.4
// with 4, 8, 10 or 16, 13.3 one after another).
const KprobeDetachWorkers = 4

// Close detaches every probe, in parallel (DetachWorkers at once, or
// Workers when set), and frees per-target programs.
func (a *Attachment) Close() error {
	a.mu.Lock()
	links := a.links
	a.links = nil
	a.mu.Unlock()
	workers := a.Workers
	if workers <= 0 {
		workers = DetachWorkers
	}
	errs := parallel(context.Background(), len(links), workers, func(i int) error {
		return links[i].Close()
	})
	// The programs stay in progs, where NotRun reads them, until their
	// counts move to closed: NotRun never goes back.
	a.mu.Lock()
	progs := a.progs
	a.progs = nil
	a.closed += NotRunOf(progs)
	a.mu.Unlock()
	for _, p := range progs {
		p.Close()
	}
	return errors.Join(errs...)
}

// NotRun returns the recursion misses of the per-target programs (5.12+),
// those Close closed included: probe hits the kernel did not run a
// program for, as the same program was running on that CPU. A program
// whose counts cannot be read counts none.
func (a *Attachment) NotRun() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed + NotRunOf(a.progs)
}

// NotRunOf sums the recursion misses of progs (5.12+), counting none for
// a program whose counts cannot be read.
func NotRunOf(progs []*ebpf.Program) uint64 {
	var n uint64
	for _, p := range progs {
		if st, err := p.Stats(); err == nil {
			n += st.RecursionMisses
		}
	}
	return n
}

// parallel runs fn(0..n-1) on up to workers goroutines; it stops handing
// out work when ctx ends and returns the non-nil errors.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan int)
	for w := 0; w < workers && w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return errs
}

// Progress is told how many probes are done, out of how many.
type Progress func(done, total int)

// MultiTarget is a function for a kprobe-multi link: its address and
// the cookie the program reads there.
type MultiTarget struct {
	Name   string
	Addr   uintptr
	Cookie uint64
}

// AttachKprobeMulti attaches prog to every target in one kprobe-multi
// link. Targets go by address, so the kernel does not look each name up
// in kallsyms (a pass over every kernel symbol per link, seconds under
// emulation). When the kernel refuses the batch, it is split in halves
// until the functions it refuses are found; they are returned as
// skipped.
func AttachKprobeMulti(ctx context.Context, a *Attachment, prog *ebpf.Program, targets []MultiTarget, progress Progress) (skipped []string, err error) {
	if len(targets) == 0 {
		return nil, nil
	}
	skipped, err = attachMultiBatch(ctx, a, prog, targets)
	if progress != nil {
		progress(len(targets), len(targets))
	}
	return skipped, err
}

func attachMultiBatch(ctx context.Context, a *Attachment, prog *ebpf.Program, targets []MultiTarget) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opts := link.KprobeMultiOptions{Addresses: make([]uintptr, len(targets)), Cookies: make([]uint64, len(targets))}
	for i, t := range targets {
		opts.Addresses[i], opts.Cookies[i] = t.Addr, t.Cookie
	}
	l, err := link.KprobeMulti(prog, opts)
	if err == nil {
		a.add(l, nil)
		return nil, nil
	}
	if len(targets) == 1 {
		return []string{targets[0].Name}, nil
	}
	half := len(targets) / 2
	left, err := attachMultiBatch(ctx, a, prog, targets[:half])
	if err != nil {
		return left, err
	}
	right, err := attachMultiBatch(ctx, a, prog, targets[half:])
	return append(left, right...), err
}

// attachWorkers bounds parallel attaches and program loads.
const attachWorkers = 8

// AttachKprobes attaches one kprobe per function, in parallel,
// each with the program and the attach cookie prog and cookie give for
// it: one program serves every skb position, reading it from the cookie
// (bpf_get_attach_cookie, 5.15+, as bpf_get_func_ip on kprobes).
func AttachKprobes(ctx context.Context, a *Attachment, prog func(Probe) *ebpf.Program, cookie func(Probe) uint64, funcs []Probe, progress Progress) (skipped []string, err error) {
	return attachEach(ctx, funcs, progress, func(p Probe) error {
		l, err := link.Kprobe(p.Name, prog(p), &link.KprobeOptions{Cookie: cookie(p)})
		if err != nil {
			return err
		}
		a.add(l, nil)
		return nil
	})
}

// Loader loads the program for one target (fentry and tp_btf programs
// are verified against their target, so each target needs its own).
type Loader func(p Probe) (*ebpf.Program, error)

// AttachTracing loads and attaches one fentry or tp_btf program per
// target, loading in parallel.
func AttachTracing(ctx context.Context, a *Attachment, load Loader, targets []Probe, progress Progress) (skipped []string, err error) {
	return attachEach(ctx, targets, progress, func(p Probe) error {
		prog, err := load(p)
		if err != nil {
			return err
		}
		l, err := link.AttachTracing(link.TracingOptions{Program: prog})
		if err != nil {
			prog.Close()
			return err
		}
		a.add(l, prog)
		return nil
	})
}

// targetRefused says the kernel refused the target before verifying a
// single instruction (e.g. fentry on a function returning a union): that
// probe is skipped, it is no bug in the program.
func targetRefused(ve *ebpf.VerifierError) bool {
	for _, line := range ve.Log {
		if strings.HasPrefix(line, "processed 0 insns") {
			return true
		}
	}
	return false
}

// attachEach runs one attach per probe in parallel. A probe the kernel
// refuses is skipped; an interruption or a verifier error (a bug in our
// program, not in the target) ends the attach.
func attachEach(ctx context.Context, probes []Probe, progress Progress, attach func(Probe) error) ([]string, error) {
	var (
		mu      sync.Mutex
		skipped []string
		done    int
		fatal   error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parallel(ctx, len(probes), attachWorkers, func(i int) error {
		err := attach(probes[i])
		mu.Lock()
		defer mu.Unlock()
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) && !targetRefused(ve) && fatal == nil {
			fatal = fmt.Errorf("loading the program for %s: %+v", probes[i].Name, ve)
			cancel()
		} else if err != nil {
			skipped = append(skipped, probes[i].Name)
		}
		done++
		if progress != nil {
			progress(done, len(probes))
		}
		return nil
	})
	if fatal != nil {
		return skipped, fatal
	}
	if err := ctx.Err(); err != nil && done < len(probes) {
		return skipped, err
	}
	return skipped, nil
}
