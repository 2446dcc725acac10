package explain

import (
	"fmt"
	"os"
	"testing"
)

// skipOrFail skips loudly, or fails under CI=true, where every test must run.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := "SKIPPED: " + fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
