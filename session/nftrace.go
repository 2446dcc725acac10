package session

import (
	"fmt"
	"io"
	"os"

	"github.com/droptrace/droptrace/nftrace"
	"github.com/droptrace/droptrace/tracer"
)

// NftAttachEnv forces how the program that lets the kernel name the rule
// behind each NETFILTER_DROP is attached: "fentry", "kprobe" or "off";
// unset, fentry where the kernel allows it, else kprobe. A test knob (the
// VM tests try each method), not a flag: --backend is path tracing's.
const NftAttachEnv = "DROPTRACE_NFT_ATTACH"

// nftMethods are the attach methods to try, by the environment's choice.
func nftMethods(env string) ([]string, error) {
	switch env {
	case "":
		return []string{tracer.NftFentry, tracer.NftKprobe}, nil
	case tracer.NftFentry, tracer.NftKprobe:
		return []string{env}, nil
	case "off":
		return nil, fmt.Errorf("%s=off", NftAttachEnv)
	}
	return nil, fmt.Errorf("%s=%q is not fentry, kprobe or off", NftAttachEnv, env)
}

// exactNetfilter prepares exact attribution when the run attributes
// firewall drops (event mode, --netfilter): it picks the attach method
// that works and switches the nftables trace key on, and says once why
// not when it cannot. It returns the key held on, nil when none.
func (d *Drops) exactNetfilter() *nftrace.Key {
	if !d.Tracer.Replies {
		return nil
	}
	methods, err := nftMethods(os.Getenv(NftAttachEnv))
	if err == nil {
		d.Tracer.Nft, err = tracer.ProbeNftAttach(methods...)
	}
	var k *nftrace.Key
	if err == nil {
		k, err = nftrace.Enable()
	}
	if err != nil {
		d.Tracer.Nft = ""
		nftUnavailable(d.Stderr, err.Error())
		return nil
	}
	return k
}

// holdKey keeps the key when the program is attached and says so, else
// lets it go and says why.
func holdKey(w io.Writer, k *nftrace.Key, t *tracer.Tracer) *nftrace.Key {
	if k == nil {
		return nil
	}
	if t.NftMode() == "" {
		k.Close()
		nftUnavailable(w, t.NftUnavailable())
		return nil
	}
	fmt.Fprintf(w, "droptrace: netfilter: the kernel names the rule of each NETFILTER_DROP (certainty exact) via %s; "+
		"it switched the kernel's nftables trace key on with a `meta nftrace set 1` rule in a network namespace of its own, removed at exit\n", t.NftMode())
	return k
}

// releaseKey deletes the nftrace rule and its namespace, and says so.
func releaseKey(w io.Writer, k *nftrace.Key) {
	if k == nil {
		return
	}
	if err := k.Close(); err != nil {
		fmt.Fprintf(w, "droptrace: netfilter: %v\n", err)
		return
	}
	fmt.Fprintf(w, "droptrace: netfilter: removed its nftrace rule and namespace; the nftables trace key is released\n")
}

func nftUnavailable(w io.Writer, why string) {
	fmt.Fprintf(w, "droptrace: netfilter: exact rule attribution unavailable (%s); rules are named by counters and replay\n", why)
}
