package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a tracer running beside the storm.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder // stdout and stderr lines, for ready checks and reports
	done chan error
}

// startProc starts argv and waits until a line of its stderr (and of its
// stdout, with withStdout) contains ready, then for settle more.
func startProc(argv []string, ready string, settle time.Duration, withStdout bool) (*proc, error) {
	return startProcEnv(argv, nil, ready, settle, withStdout)
}

// startProcEnv is startProc with env added to the bench's environment.
func startProcEnv(argv, env []string, ready string, settle time.Duration, withStdout bool) (*proc, error) {
	p := &proc{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan error, 1)}
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	pr, pw := io.Pipe()
	p.cmd.Stderr = pw
	p.cmd.Stdout = devnull
	if withStdout {
		p.cmd.Stdout = pw
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	readyc := make(chan struct{})
	go p.read(pr, ready, readyc)
	go func() { p.done <- p.cmd.Wait(); pw.Close() }()
	if ready == "" {
		time.Sleep(settle)
		return p, nil
	}
	select {
	case <-readyc:
		time.Sleep(settle)
		return p, nil
	case err := <-p.done:
		return nil, fmt.Errorf("%s exited before it was ready: %v\n%s", argv[0], err, p.output())
	case <-time.After(60 * time.Second):
		p.kill()
		return nil, fmt.Errorf("%s not ready after 60s:\n%s", argv[0], p.output())
	}
}

func (p *proc) read(r io.Reader, ready string, readyc chan struct{}) {
	sc := bufio.NewScanner(r)
	signalled := false
	for sc.Scan() {
		p.mu.Lock()
		p.out.WriteString(sc.Text() + "\n")
		p.mu.Unlock()
		if !signalled && ready != "" && strings.Contains(sc.Text(), ready) {
			close(readyc)
			signalled = true
		}
	}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// stop interrupts the process and waits for it to exit.
func (p *proc) stop() error {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		time.Sleep(50 * time.Millisecond) // the last output lines
		return nil
	case <-time.After(30 * time.Second):
		p.kill()
		return fmt.Errorf("%s did not exit within 30s of SIGINT", p.cmd.Path)
	}
}

func (p *proc) kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// cpuTime returns the user and system CPU time the process (all its
// threads, living or not) has used so far, in clock ticks' resolution.
func (p *proc) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it do not.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	// Fields 14 and 15 of stat, utime and stime, are f[11] and f[12].
	utime, _ := strconv.ParseUint(f[11], 10, 64)
	stime, _ := strconv.ParseUint(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// memory returns the process's resident memory now and at its peak, in KiB.
func (p *proc) memory() (rss, peak uint64) {
	return p.status("VmRSS:"), p.status("VmHWM:")
}

func (p *proc) status(field string) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			return n
		}
	}
	return 0
}
