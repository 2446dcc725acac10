package tracer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/droptrace/droptrace/bpf"
)

// ErrDetached means the tracer was detached: a retarget attaches nothing.
var ErrDetached = errors.New("the tracer is detached")

// RetargetNetns reloads the drop program (and the TCP programs) with the
// namespace filter set to ino, the other filters unchanged: --filter-pod
// following a pod that was created again in a new namespace. The new
// programs share every map of the running ones (the rings, the counters,
// the summary and its pending runs), so no event or count is lost, and
// they attach before the old ones detach, so no drop goes unseen; a drop
// seen by both is matched by at most one, since it happened in one
// namespace. Loading takes a while (a second on a busy machine): it holds
// no lock, so that Detach is never kept waiting; only one RetargetNetns
// may run at a time.
func (t *Tracer) RetargetNetns(ino uint32) error {
	t.mu.Lock()
	cfg, tcp := t.cfg, t.tcp != nil
	t.mu.Unlock()
	cfg.Filter.Netns = ino
	coll, l, p, err := t.load(cfg, tcp)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.detached {
		l.Close()
		coll.Close()
		if p != nil {
			p.close()
		}
		return ErrDetached
	}
	t.swap(coll, l, p)
	t.cfg = cfg
	return nil
}

// load loads and attaches the drop program for cfg and, when tcp, the TCP
// programs.
func (t *Tracer) load(cfg Config, tcp bool) (*ebpf.Collection, link.Link, *tcpProbe, error) {
	coll, l, err := t.loadDrop(cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reloading the drop program for netns %d: %w", cfg.Filter.Netns, explainPermission(err))
	}
	if !tcp {
		return coll, l, nil, nil
	}
	p, err := openTCP(cfg.Filter, t.hz, t.kspec, t.coll)
	if err != nil {
		l.Close()
		coll.Close()
		return nil, nil, nil, fmt.Errorf("reloading the TCP programs for netns %d: %w", cfg.Filter.Netns, explainPermission(err))
	}
	return coll, l, p, nil
}

// loadDrop loads and attaches the drop program for cfg as the running
// one is attached, with the running one's maps.
func (t *Tracer) loadDrop(cfg Config) (*ebpf.Collection, link.Link, error) {
	spec, err := bpf.LoadDrop()
	if err != nil {
		return nil, nil, fmt.Errorf("reading the embedded BPF object: %w", err)
	}
	if err := configure(spec, cfg, t.kspec, t.hz); err != nil {
		return nil, nil, err
	}
	shared := map[string]*ebpf.Map{}
	for name, m := range t.coll.Maps {
		if strings.HasPrefix(name, ".") { // .rodata: the constants being changed
			continue
		}
		shared[name] = m
		spec.Maps[name].MaxEntries = m.MaxEntries()
	}
	hook := HookTpBTF
	if t.mode == ModeTracepoint {
		hook = HookTracepoint
	}
	// The reply programs stay attached and fill the shared replies map,
	// which the new drop program reads.
	// So does the nft verdict program, which fills the nft_verdicts map.
	var nft *nftHook
	if t.nft != nil && t.nft.link != nil {
		nft = &nftHook{method: t.nft.method, layout: t.nft.layout}
	}
	coll, l, _, _, err := attachDrop(spec, t.kspec, hook, shared, len(t.replyLinks) > 0, nft)
	return coll, l, err
}

// swap detaches and frees the running programs once their successors are
// attached. Called with t.mu held.
func (t *Tracer) swap(coll *ebpf.Collection, l link.Link, tcp *tcpProbe) {
	t.link.Close()
	t.link = l
	if t.prog != nil {
		t.dropMissed += retiredMisses(t.prog.Programs)
		t.prog.Close()
	} else {
		// The first program was loaded in the collection that owns the
		// maps, which stay.
		t.dropMissed += retiredMisses(t.coll.Programs)
		for name := range t.coll.Programs {
			if p := t.coll.DetachProgram(name); p != nil {
				p.Close()
			}
		}
	}
	t.prog = coll
	if tcp != nil {
		t.tcpMissed += tcp.retire(t.tcp)
		t.tcp = tcp
	}
}
