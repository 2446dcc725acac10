package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// bpftrace is a running bpftrace: the independent counter that tests
// compare droptrace's counts with.
type bpftrace struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

// startBpftrace runs prog and returns once its probes are attached: an
// interval probe is added whose first tick bpftrace only prints after
// attaching every probe ("Attaching N probes" comes before).
func startBpftrace(t *testing.T, prog string) *bpftrace {
	t.Helper()
	if _, err := exec.LookPath("bpftrace"); err != nil {
		t.Fatal("bpftrace is missing: `make deps-test` installs it")
	}
	prog += "\ninterval:ms:100 { printf(\"tick\\n\"); }"
	bt := &bpftrace{cmd: exec.Command("bpftrace", "-e", prog), out: &syncBuffer{}, done: make(chan error, 1)}
	pipe, err := bt.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	bt.cmd.Stderr = bt.cmd.Stdout
	if err := bt.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bt.cmd.Process.Kill() })
	ticked := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		for once := false; sc.Scan(); {
			bt.out.WriteLine(sc.Text())
			if !once && sc.Text() == "tick" {
				close(ticked)
				once = true
			}
		}
		bt.done <- bt.cmd.Wait()
	}()
	select {
	case <-ticked:
	case err := <-bt.done:
		t.Fatalf("bpftrace exited before attaching: %v\n%s", err, bt.out.String())
	case <-time.After(attachWait):
		t.Fatalf("bpftrace not attached after %v\n%s", attachWait, bt.out.String())
	}
	return bt
}

// recursionMisses is how many times the kernel skipped bpftrace's
// programs so far because a program already ran on that CPU: events it
// could not count (droptrace counts its own as lost).
func (bt *bpftrace) recursionMisses(t *testing.T) uint64 {
	t.Helper()
	return recursionMissesOf(t, bt.cmd.Process.Pid)
}

// recursionMissesOf sums the recursion misses the kernel counts for the
// BPF programs process pid holds open.
func recursionMissesOf(t *testing.T, pid int) uint64 {
	t.Helper()
	var n uint64
	for _, id := range fdinfoIDs(pid)["prog_id"] {
		prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
		if err != nil {
			continue
		}
		stats, err := prog.Stats()
		prog.Close()
		if err != nil {
			t.Fatalf("program %d of process %d: %v", id, pid, err)
		}
		n += stats.RecursionMisses
	}
	return n
}

// stop interrupts bpftrace, which prints its maps, and returns its output.
func (bt *bpftrace) stop(t *testing.T) string {
	t.Helper()
	bt.cmd.Process.Signal(os.Interrupt)
	select {
	case <-bt.done:
	case <-time.After(exitWait):
		t.Fatalf("bpftrace did not exit within %v\n%s", exitWait, bt.out.String())
	}
	return bt.out.String()
}
