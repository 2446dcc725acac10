package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// vmPathRow is one DROPTRACE-BENCH-PATH line of the guest's TestBenchPath.
type vmPathRow map[string]string

// vmPath runs TestBenchPath in the Debian 6.12 kernel under qemu: per
// function backend, UDP and TCP ratios over loopback with a filter that
// matches nothing, for the floor (empty programs on the same probes),
// droptrace and pwru (when -pwru names its binary), and their ready and
// detach times.
func (b *bench) vmPath() error {
	args := []string{"vmtest/run.sh", "--kernels", "6.12", "--run", "^TestBenchPath$", "--timeout", "2700"}
	if b.o.pwru == "" {
		fmt.Fprintln(os.Stderr, "bench: no -pwru PATH given: the VM rows have no pwru to compare with")
		b.vmNote = "pwru not measured: no -pwru PATH given"
	} else {
		bin, err := unpackPwru(b.o.pwru)
		if err != nil {
			return err
		}
		defer os.RemoveAll(filepath.Dir(bin))
		args = append(args, "--add", bin)
	}
	cmd := exec.Command("bash", args...)
	cmd.Env = append(os.Environ(), "DROPTRACE_BENCH_PATH=1")
	switch b.o.vmClock {
	case "icount":
		// Guest time counts instructions, 4 ns each, whatever the
		// host's load, on one vCPU, so that a tracer's every
		// instruction (and its reader's) comes out of the traffic's.
		cmd.Env = append(cmd.Env, "DROPTRACE_VM_ICOUNT=2", "DROPTRACE_VM_SMP=1", "DROPTRACE_BENCH_ROUNDS=2", "DROPTRACE_BENCH_WINDOWS=3")
		b.vmClock = "qemu -icount on one vCPU: guest time counts the instructions the guest runs (4 ns each), so the host's load does not move the figures; times are guest times"
	case "host":
		b.vmClock = "the host's clock: the ratios move with the host's load"
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("vmtest/run.sh: %w\n%s", err, tail(string(out), 40))
	}
	for _, line := range strings.Split(string(out), "\n") {
		_, rest, ok := strings.Cut(line, "DROPTRACE-BENCH-PATH ")
		if !ok {
			continue
		}
		row := vmPathRow{}
		for _, f := range strings.Fields(rest) {
			k, v, _ := strings.Cut(f, "=")
			row[k] = v
		}
		if row["tracer"] != "" {
			b.vmRows = append(b.vmRows, row)
		}
	}
	return nil
}

// unpackPwru copies pwru, gunzipping it when its name ends in .gz, to a
// temporary directory, as an executable named pwru.
func unpackPwru(path string) (string, error) {
	dir, err := os.MkdirTemp("", "bench-pwru")
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, "pwru")
	cmd := "cp " + shellQuote(path) + " " + shellQuote(dst)
	if strings.HasSuffix(path, ".gz") {
		cmd = "gunzip -c " + shellQuote(path) + " > " + shellQuote(dst)
	}
	if out, err := exec.Command("sh", "-c", cmd+" && chmod +x "+shellQuote(dst)).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("unpacking %s: %v: %s", path, err, out)
	}
	return dst, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// reportVM prints, per backend and tracer, the median of the rounds
// TestBenchPath measured (in turns, in one VM run), with their range.
func (b *bench) reportVM(w io.Writer) {
	if len(b.vmRows) == 0 && b.vmNote == "" {
		return
	}
	if b.vmClock != "" {
		fmt.Fprintf(w, "\nVM clock: %s.\n", b.vmClock)
	}
	fmt.Fprintf(w, "\n| Debian 6.12 under qemu (TCG), loopback, filter matching nothing | rounds | UDP packets/s vs no tracer | TCP vs no tracer | BPF µs per UDP datagram (runs) | BPF µs per 64 KiB of TCP (runs) | ready (s) | detach (s) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, rows := range groupVMRows(b.vmRows) {
		col := func(key string, scale float64) sample {
			var s sample
			for _, r := range rows {
				s = append(s, vmField(r, key)*scale)
			}
			return s
		}
		u, t, ready, detach := col("udp_ratio", 1), col("tcp_ratio", 1), col("ready_ms", 1e-3), col("detach_ms", 1e-3)
		bpfUs, runs := col("bpf_ns_per_udp", 1e-3), col("bpf_runs_per_udp", 1)
		bpfTCPUs, tcpRuns := col("bpf_ns_per_tcp64k", 1e-3), col("bpf_runs_per_tcp64k", 1)
		fmt.Fprintf(w, "| %s, %s | %d | **%.3f** (%s) | **%.3f** (%s) | %.1f (%.0f) | %.1f (%.0f) | %.2f (%s) | %.2f (%s) |\n", rows[0]["backend"], rows[0]["tracer"], len(rows),
			u.median(), u.minMax(), t.median(), t.minMax(), bpfUs.median(), runs.median(), bpfTCPUs.median(), tcpRuns.median(), ready.median(), ready.minMax(), detach.median(), detach.minMax())
	}
	b.reportVMFloor(w)
	if b.vmNote != "" {
		fmt.Fprintf(w, "\n%s.\n", b.vmNote)
	}
}

// reportVMFloor prints, per backend and tracer, its ratios over the
// floor's of the same round (the two are measured one after the other,
// so the host's drift between rounds cancels), the median over rounds.
func (b *bench) reportVMFloor(w io.Writer) {
	type key struct{ backend, round string }
	floor := map[key]vmPathRow{}
	for _, r := range b.vmRows {
		if r["tracer"] == "floor" {
			floor[key{r["backend"], r["round"]}] = r
		}
	}
	if len(floor) == 0 {
		return
	}
	fmt.Fprintf(w, "\n| same run, over the floor of the same round | rounds | UDP vs floor | TCP vs floor |\n|---|---:|---:|---:|\n")
	for _, rows := range groupVMRows(b.vmRows) {
		if rows[0]["tracer"] == "floor" {
			continue
		}
		var u, t sample
		for _, r := range rows {
			f, ok := floor[key{r["backend"], r["round"]}]
			if !ok {
				continue
			}
			u = append(u, vmField(r, "udp_ratio")/vmField(f, "udp_ratio"))
			t = append(t, vmField(r, "tcp_ratio")/vmField(f, "tcp_ratio"))
		}
		if len(u) == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s, %s | %d | **%.2f** (%s) | **%.2f** (%s) |\n", rows[0]["backend"], rows[0]["tracer"], len(u), u.median(), u.minMax(), t.median(), t.minMax())
	}
}

// vmField is a row's numeric field, 0 when absent.
func vmField(r vmPathRow, k string) float64 {
	var v float64
	fmt.Sscan(r[k], &v)
	return v
}

// groupVMRows groups rows by backend and tracer, in the order each pair
// first appears.
func groupVMRows(rows []vmPathRow) [][]vmPathRow {
	var groups [][]vmPathRow
	index := map[string]int{}
	for _, r := range rows {
		key := r["backend"] + "/" + r["tracer"]
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], r)
	}
	return groups
}
