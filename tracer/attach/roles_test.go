package attach

import "testing"

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
	by := ByRole([]Probe{{"ip_rcv", 1}, {"kfree_skbmem", 1}, {"skb_clone", 1}}, FuncRole)
	if len(by[RoleStart]) != 1 || len(by[RoleGone]) != 1 || len(by[RoleFollow]) != 1 {
		t.Errorf("ByRole = %v", by)
	}
}
