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
// that works and switches the nftables trace key on. It returns the key
// held on, or why there is none ("" when not asked for), which holdKey
// says once the tracer is open: a run that fails before says nothing
// of it.
func (d *Drops) exactNetfilter() (*nftrace.Key, string) {
	if !d.Tracer.Replies {
		return nil, ""
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
		return nil, err.Error()
	}
	return k, ""
}

// holdKey keeps the key when the program is attached and says so, else
// lets it go and says why not.
func holdKey(w io.Writer, k *nftrace.Key, why string, t *tracer.Tracer) *nftrace.Key {
	if k == nil {
		if why != "" {
			nftUnavailable(w, why)
		}
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
