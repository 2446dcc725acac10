package attach

import (
	"slices"
	"testing"

	"github.com/cilium/ebpf"
)

func TestRoles(t *testing.T) {
	funcs := []struct {
		p    Probe
		want Role
	}{
		{Probe{"ip_local_out", 3}, RoleStart},
		{Probe{"ip_rcv", 1}, RoleStart},
		// Functions inside a free never start a path.
		{Probe{"skb_release_head_state", 1}, RoleFollow},
		{Probe{"skb_release_data", 1}, RoleFollow},
		{Probe{"__build_skb_around", 1}, RoleFollow},
		{Probe{"kfree_skbmem", 1}, RoleGone},
		{Probe{"napi_skb_cache_put", 1}, RoleGone},
		{Probe{"kfree_skb_partial", 1}, RoleGone},
		{Probe{"kfree_skbmem", 2}, RoleFollow}, // not the skb gone probes read
	}
	for _, tt := range funcs {
		if got := FuncRole(tt.p); got != tt.want {
			t.Errorf("FuncRole(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	tps := map[string]Role{
		"netif_receive_skb": RoleStart, "net_dev_queue": RoleStart,
		// net_dev_xmit fires after the driver may have freed the skb.
		"net_dev_xmit": RoleBlind, "some_new_tracepoint": RoleBlind,
	}
	for name, want := range tps {
		if got := TracepointRole(name); got != want {
			t.Errorf("TracepointRole(%q) = %v, want %v", name, got, want)
		}
	}
	// No path reaches a write queue's skb, which TCP never sends; a twin
	// goes where its tracepoint is probed, and stays where it is not.
	all := []Probe{{"net_dev_xmit", 1}, {"tcp_sendmsg_locked", 2}, {"netif_rx_entry", 1}, {"netif_rx", 1}}
	if got, want := PathTracepoints(all), []Probe{all[0], all[3]}; !slices.Equal(got, want) {
		t.Errorf("PathTracepoints(%v) = %v, want %v", all, got, want)
	}
	if got, want := PathTracepoints(all[:3]), []Probe{all[0], all[2]}; !slices.Equal(got, want) {
		t.Errorf("PathTracepoints(%v) = %v, want %v", all[:3], got, want)
	}
	// The filters run once where a start function calls another first
	// thing with the same skb: ip_local_out starts, __ip_local_out follows.
	out := []Probe{{"ip_send_skb", 2}, {"ip_local_out", 3}, {"__ip_local_out", 3}, {"ip_rcv", 1}, {"__ip6_local_out", 3}}
	roles := FuncRoles(out)
	for _, tt := range []struct {
		p    Probe
		want Role
	}{{out[0], RoleStart}, {out[1], RoleStart}, {out[2], RoleFollow}, {out[3], RoleStart}, {out[4], RoleStart}} {
		if got := roles(tt.p); got != tt.want {
			t.Errorf("FuncRoles(...)(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	// Without its caller probed, __ip_local_out still starts.
	if got := FuncRoles(out[2:3])(out[2]); got != RoleStart {
		t.Errorf("FuncRoles(__ip_local_out alone) = %v, want start", got)
	}
	by := ByRole([]Probe{{"ip_rcv", 1}, {"kfree_skbmem", 1}, {"skb_clone", 1}}, FuncRole)
	if len(by[RoleStart]) != 1 || len(by[RoleGone]) != 1 || len(by[RoleFollow]) != 1 {
		t.Errorf("ByRole = %v", by)
	}
}

func TestTargetRefused(t *testing.T) {
	refused := &ebpf.VerifierError{Log: []string{"The function tcp_v4_init_seq_and_ts_off return type UNION is unsupported.",
		"processed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0"}}
	if !targetRefused(refused) {
		t.Error("a target refused before verification is not skipped")
	}
	bug := &ebpf.VerifierError{Log: []string{"R1 invalid mem access 'scalar'", "processed 12 insns (limit 1000000)"}}
	if targetRefused(bug) {
		t.Error("a verifier rejection of the program is taken for a refused target")
	}
}
