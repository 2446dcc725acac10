package tracer

import (
	"os"
	"testing"
)

// requireRoot skips a test that loads BPF programs when not root, loudly,
// and fails it instead with CI=true.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("loading BPF programs needs root")
	}
	t.Skip("SKIPPED: loading BPF programs needs root")
}
