package explain

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// shotProg is a tc program that drops every packet (TC_ACT_SHOT).
const shotProg = `__attribute__((section("tc"), used)) int shot(void *skb) { return 2; }
char _license[] __attribute__((section("license"), used)) = "GPL";
`

// TestTCIngressScenario: a tc BPF filter that drops everything on the
// server's ingress; the evidence names the clsact qdisc and the filter,
// checked against tc filter show.
func TestTCIngressScenario(t *testing.T) {
	requireRoot(t)
	clang, err := exec.LookPath("clang-14")
	if err != nil {
		skipOrFail(t, "clang-14 is needed to build the tc program: %v", err)
	}
	dir := t.TempDir()
	src, obj := filepath.Join(dir, "shot.c"), filepath.Join(dir, "shot.o")
	if err := os.WriteFile(src, []byte(shotProg), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, clang, "-O2", "-target", "bpf", "-c", src, "-o", obj)
	p := newPair(t, "10.231.11")
	sh(t, "tc", "-n", p.server, "qdisc", "add", "dev", p.serverIf, "clsact")
	sh(t, "tc", "-n", p.server, "filter", "add", "dev", p.serverIf, "ingress", "bpf", "da", "obj", obj, "sec", "tc")
	tr := startTracer(t, p.server)
	ev := tr.await(t, 10*time.Second, ping(p.client, p.serverIP), reasonAt("TC_INGRESS", ""))
	x := explain(t, ev)

	// filter protocol all pref 49152 bpf chain 0 handle 0x1 shot.o:[tc] direct-action not_in_hw id 9223 name shot ...
	oracle := sh(t, "tc", "-n", p.server, "filter", "show", "dev", p.serverIf, "ingress")
	m := regexp.MustCompile(`pref (\d+) bpf .* (shot\.o:\[tc\]) .* id (\d+)`).FindStringSubmatch(oracle)
	if m == nil {
		t.Fatalf("tc filter show:\n%s", oracle)
	}
	want := "ingress bpf pref " + m[1] + " " + m[2] + " id " + m[3]
	if got := values(x, "filter"); len(got) != 1 || got[0] != want {
		t.Errorf("filter evidence %q, want %q (tc filter show)", got, want)
	}
	if got := value(t, x, "filters"); got != "ingress 1" {
		t.Errorf("filters %q, want ingress 1", got)
	}
	qd := sh(t, "tc", "-n", p.server, "qdisc", "show", "dev", p.serverIf) // qdisc clsact ffff: parent ffff:fff1
	found := false
	for _, q := range values(x, "qdisc") {
		found = found || regexp.MustCompile(`^clsact ffff: parent ffff:fff1`).MatchString(q)
	}
	if !found || !regexp.MustCompile(`qdisc clsact ffff: parent ffff:fff1`).MatchString(qd) {
		t.Errorf("qdisc evidence %q, tc qdisc show:\n%s", values(x, "qdisc"), qd)
	}
}
