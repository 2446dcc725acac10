package guest

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/droptrace/droptrace/explain"
	"github.com/droptrace/droptrace/kernel"
)

// TestListReasonsDescribesEveryReason writes --list-reasons for the
// guest kernel's reasons, read from its BTF as droptrace reads them, and
// fails on any reason without a description: a kernel series vmtest boots
// must not have a reason droptrace cannot explain in words.
func TestListReasonsDescribesEveryReason(t *testing.T) {
	requireVM(t)
	reasons, err := kernel.LoadDropReasons()
	if err != nil {
		t.Fatalf("reading drop reasons from kernel BTF: %v", err)
	}
	if !reasons.Supported() {
		t.Fatalf("kernel %s has no drop reasons (5.17+ has them)", kernelRelease(t))
	}
	names := reasons.Names()
	var list bytes.Buffer
	if err := explain.WriteList(&list, names); err != nil {
		t.Fatal(err)
	}
	lines := 0
	sc := bufio.NewScanner(&list)
	for sc.Scan() {
		lines++
		name, desc, _ := strings.Cut(sc.Text(), "  ")
		if strings.TrimSpace(desc) == "-" {
			t.Errorf("reason %s of %s has no description", name, kernelRelease(t))
		}
	}
	if lines != len(names) || len(names) < 50 {
		t.Errorf("--list-reasons wrote %d lines for the kernel's %d reasons, want one a reason and at least 50", lines, len(names))
	}
	t.Logf("%d reasons of %s described", len(names), kernelRelease(t))
}
