package nftrace

import (
	"os"
	"slices"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

func tableNames(t *testing.T, c *nftables.Conn) []string {
	t.Helper()
	tables, err := c.ListTables()
	if err != nil {
		t.Fatalf("listing tables: %v", err)
	}
	var names []string
	for _, tb := range tables {
		names = append(names, tb.Name)
	}
	return names
}

// TestEnableOwnNamespace checks that the rule is made in a namespace of
// its own, with the meta nftrace expression, and never in the caller's.
func TestEnableOwnNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: needs root (creates a network namespace)")
	}
	var before unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &before); err != nil {
		t.Fatal(err)
	}
	k, err := Enable()
	if err != nil {
		t.Fatalf("Enable: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	var own, after unix.Stat_t
	if err := unix.Fstat(k.netns, &own); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat("/proc/self/ns/net", &after); err != nil {
		t.Fatal(err)
	}
	if own.Ino == before.Ino || after.Ino != before.Ino {
		t.Fatalf("namespaces: own %d, process before %d, after %d", own.Ino, before.Ino, after.Ino)
	}
	c, err := nftables.New(nftables.WithNetNSFd(k.netns))
	if err != nil {
		t.Fatal(err)
	}
	if got := tableNames(t, c); !slices.Equal(got, []string{TableName}) {
		t.Fatalf("tables in its namespace: %v, want [%s]", got, TableName)
	}
	chains, err := c.ListChains()
	if err != nil || len(chains) != 1 || chains[0].Hooknum != nil {
		t.Fatalf("chains: %+v, %v; want one without a hook", chains, err)
	}
	rules, err := c.GetRules(chains[0].Table, chains[0])
	if err != nil || len(rules) != 1 || len(rules[0].Exprs) != 2 {
		t.Fatalf("rules: %+v, %v; want one meta nftrace set 1", rules, err)
	}
	if m, ok := rules[0].Exprs[1].(*expr.Meta); !ok || m.Key != expr.MetaKeyNFTRACE || !m.SourceRegister {
		t.Fatalf("rule %+v: want meta nftrace set", rules[0].Exprs)
	}
	host, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(tableNames(t, host), TableName) {
		t.Fatalf("%s is in the process's own namespace", TableName)
	}
	if err := k.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
