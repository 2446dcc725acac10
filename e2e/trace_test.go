package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestTraceReject follows the SYN that iptables REJECTs, on this host's
// kernel, where only the tracepoint backend works: auto must choose it,
// say why not the others, and show the path from netif_receive_skb to
// the drop.
func TestTraceReject(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	tr := startTracer(t, "--trace", "--output", "json",
		"--filter-dst-ip", tp.serverIP4, "--filter-port", fmt.Sprint(rejectPort), "--filter-proto", "tcp")
	tp.connectTCP(t, tp.serverIP4, rejectPort, 1)
	tr.waitDrop(t, tp)
	tr.stop(t)

	stderr := tr.stderr.String()
	if !strings.Contains(stderr, "backend tracepoint (") || !strings.Contains(stderr, "kprobe:") || !strings.Contains(stderr, "fentry:") {
		t.Errorf("stderr does not say the tracepoint backend was chosen and why:\n%s", stderr)
	}
	evs := tr.events(t)
	var drop *jsonEvent
	for i, ev := range evs {
		if ev.Kind == "drop" {
			drop = &evs[i]
		}
	}
	if drop == nil {
		t.Fatalf("no drop in %d events", len(evs))
	}
	if drop.Reason != "NETFILTER_DROP" || drop.Dport != rejectPort || drop.Func != "tp:kfree_skb" {
		t.Errorf("drop %+v: want NETFILTER_DROP to port %d at tp:kfree_skb", drop, rejectPort)
	}
	if drop.NetnsName != tp.server {
		t.Errorf("drop in netns %d named %q: want %q, its 'ip netns' name, as drop mode names it", drop.Netns, drop.NetnsName, tp.server)
	}
	var path []string
	for _, ev := range evs {
		if ev.Path == drop.Path {
			path = append(path, ev.Func)
		}
		if ev.Netns != 0 && ev.NetnsName != tp.client && ev.NetnsName != tp.server {
			t.Errorf("step %s in netns %d named %q: want %q or %q", ev.Func, ev.Netns, ev.NetnsName, tp.client, tp.server)
		}
		if ev.Kind == "trace" && (ev.Func == "" || ev.Skb == "") {
			t.Errorf("trace event %+v lacks func or skb", ev)
		}
	}
	t.Logf("path %s: %s", drop.Path, strings.Join(path, " > "))
	if !slices.Contains(path, "tp:netif_receive_skb") || path[len(path)-1] != "tp:kfree_skb" {
		t.Errorf("path %v: want it through tp:netif_receive_skb, ending at tp:kfree_skb", path)
	}
}

// waitDrop waits until iptables has rejected the SYN and droptrace has
// written its drop, the end of its path.
func (tr *tracer) waitDrop(t *testing.T, tp *topology) {
	t.Helper()
	tp.waitRule(t, "iptables", 1, "tcp", fmt.Sprintf("dpt:%d", rejectPort))
	tr.waitEvents(t, "the drop", 1, func(ev jsonEvent) bool { return ev.Kind == "drop" })
}

func TestTraceBadInput(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"--trace", "--backend", "nonsense"}, 2, "--backend"},
		{[]string{"--trace", "--filter-func", "^no_such_function_at_all$"}, 2, "--filter-func"},
		{[]string{"--trace", "--filter-func", "("}, 2, "--filter-func"},
		{[]string{"--trace", "--filter-reason", "NO_SOCKET"}, 2, "--filter-reason"},
		{[]string{"--trace", "--backend", "kprobe"}, 1, "--backend kprobe: not usable on this kernel"},
		{[]string{"--trace", "--backend", "fentry"}, 1, "--backend fentry: not usable on this kernel"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := exitCode(t, append(tt.args, "--duration", "1s")...)
			if code != tt.code || !strings.Contains(stderr, tt.say) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.say)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("stderr is more than one line: %q", stderr)
			}
		})
	}
}

// TestTraceStack checks --output-stack: the drop's kernel stack, innermost
// first, without the tracing machinery's own frames.
func TestTraceStack(t *testing.T) {
	requireRoot(t)
	tp := newTopology(t)
	tp.addRules(t)
	tr := startTracer(t, "--trace", "--output-stack", "--output", "json",
		"--filter-dst-ip", tp.serverIP4, "--filter-port", fmt.Sprint(rejectPort))
	tp.connectTCP(t, tp.serverIP4, rejectPort, 1)
	tr.waitDrop(t, tp)
	tr.stop(t)
	for _, ev := range tr.events(t) {
		if ev.Kind != "drop" {
			continue
		}
		t.Logf("stack: %v", ev.Stack)
		if len(ev.Stack) < 3 {
			t.Fatalf("stack %v: want the kernel's frames, innermost first", ev.Stack)
		}
		// The probe's own frames (the program, its trampoline or
		// tracepoint glue) are trimmed: the stack starts in the kernel.
		for _, p := range []string{"bpf_", "0x", "_einittext", "__traceiter_", "__bpf_trace_"} {
			if strings.HasPrefix(ev.Stack[0], p) {
				t.Fatalf("stack %v starts with a tracing frame (%s...)", ev.Stack, p)
			}
		}
		if !slices.Contains(framesOf(ev.Stack), "nft_do_chain") || !slices.Contains(framesOf(ev.Stack), "ip_local_deliver") {
			t.Errorf("stack %v does not show the netfilter drop path", ev.Stack)
		}
		return
	}
	t.Fatal("no drop event")
}

func framesOf(stack []string) []string {
	var names []string
	for _, f := range stack {
		name, _, _ := strings.Cut(f, "+")
		names = append(names, name)
	}
	return names
}
