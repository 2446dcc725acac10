package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

type costRow struct {
	name      string
	nsPerCall float64
	calls     uint64
	insns     int // translated instructions (a 64-bit immediate load counts twice)
	jited     int // bytes of machine code
}

const bpfStats = "/proc/sys/kernel/bpf_stats_enabled"

// bpfCost measures the drop programs' cost per call with the kernel's BPF
// statistics, for the configurations with a costName. They cost a little
// themselves, so they are on only here, after the rates were measured.
func (b *bench) bpfCost(cfgs []tracerConfig) error {
	old, err := os.ReadFile(bpfStats)
	if err != nil {
		return err
	}
	if err := os.WriteFile(bpfStats, []byte("1"), 0); err != nil {
		return err
	}
	defer os.WriteFile(bpfStats, old, 0)
	for _, c := range cfgs {
		if c.costName == "" {
			continue
		}
		row, err := b.costOnce(c)
		if err != nil {
			return err
		}
		b.costs = append(b.costs, row)
	}
	return nil
}

func (b *bench) costOnce(c tracerConfig) (costRow, error) {
	p, err := startProc(c.argv, c.ready, 300*time.Millisecond, c.stdout)
	if err != nil {
		return costRow{}, err
	}
	defer p.stop()
	if _, err := measureStorm(b.tp, max(b.o.window, 2*time.Second), b.o.senders, 0); err != nil {
		return costRow{}, err
	}
	row, err := progStats(p.cmd.Process.Pid)
	row.name = c.costName
	fmt.Fprintf(os.Stderr, "bench:   %-40s %6.1f ns/call, %d insns\n", c.costName, row.nsPerCall, row.insns)
	return row, err
}

// progStats reads bpftool's record of the kfree_skb program that pid holds
// a descriptor of (found in /proc/PID/fdinfo: bpftool here cannot list
// the processes of a program).
func progStats(pid int) (costRow, error) {
	ids, err := progIDs(pid)
	if err != nil {
		return costRow{}, err
	}
	for _, id := range ids {
		out, err := sh("bpftool", "prog", "show", "id", id, "-j")
		if err != nil {
			return costRow{}, err
		}
		var pr struct {
			Name      string `json:"name"`
			RunTimeNs uint64 `json:"run_time_ns"`
			RunCnt    uint64 `json:"run_cnt"`
			Xlated    int    `json:"bytes_xlated"`
			Jited     int    `json:"bytes_jited"`
		}
		if err := json.Unmarshal([]byte(out), &pr); err != nil {
			return costRow{}, fmt.Errorf("reading bpftool -j: %w", err)
		}
		if strings.Contains(pr.Name, "kfree_skb") && pr.RunCnt > 0 {
			return costRow{nsPerCall: float64(pr.RunTimeNs) / float64(pr.RunCnt), calls: pr.RunCnt, insns: pr.Xlated / 8, jited: pr.Jited}, nil
		}
	}
	return costRow{}, fmt.Errorf("no kfree_skb program of pid %d ran (programs %v)", pid, ids)
}

// progIDs lists the ids of the BPF programs pid has descriptors of.
func progIDs(pid int) ([]string, error) {
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name())
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "prog_id:"); ok {
				ids = append(ids, strings.TrimSpace(v))
			}
		}
	}
	return ids, nil
}
