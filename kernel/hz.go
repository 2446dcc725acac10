package kernel

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// hzChoices are the values Kconfig allows for CONFIG_HZ.
var hzChoices = []int{100, 250, 300, 1000}

// HZ returns the kernel's CONFIG_HZ, the rate of jiffies, and where it was
// found: the kernel's config (/boot/config-RELEASE, /proc/config.gz) when
// one is there, else measured from the jiffies /proc/timer_list shows
// over hzSpan. BPF programs need it to turn times kept in jiffies (a TCP
// socket's icsk_rto) into µs.
func HZ() (hz int, source string, err error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return 0, "", fmt.Errorf("uname: %w", err)
	}
	for _, path := range []string{"/boot/config-" + unix.ByteSliceToString(u.Release[:]), "/proc/config.gz"} {
		if hz, err := configHZ(path); err == nil {
			return hz, path, nil
		}
	}
	hz, err = measureHZ()
	if err != nil {
		return 0, "", fmt.Errorf("finding the kernel's HZ: no kernel config, and %w", err)
	}
	return hz, "measured from /proc/timer_list", nil
}

// configHZ reads CONFIG_HZ from a kernel config file, gzipped or not.
func configHZ(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var r io.Reader = bytes.NewReader(b)
	if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
		r = zr
	}
	s := bufio.NewScanner(r)
	for s.Scan() {
		if v, ok := bytes.CutPrefix(s.Bytes(), []byte("CONFIG_HZ=")); ok {
			return strconv.Atoi(string(v))
		}
	}
	if err := s.Err(); err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return 0, fmt.Errorf("%s has no CONFIG_HZ", path)
}

// hzSpan is how long measureHZ counts jiffies: long enough that a tick
// more or less, or a reader preempted for 20 ms between the two lines it
// reads, cannot make 250 look like 300, the two closest choices (10%
// apart). It is paid only on kernels whose config droptrace cannot read.
const hzSpan = 250 * time.Millisecond

// measureHZ counts the jiffies that pass in hzSpan of the kernel's own
// clock, both as /proc/timer_list prints them, and returns the allowed HZ
// nearest to the rate.
func measureHZ() (int, error) {
	j0, ns0, err := readTimerList()
	if err != nil {
		return 0, err
	}
	time.Sleep(hzSpan)
	j1, ns1, err := readTimerList()
	if err != nil {
		return 0, err
	}
	if ns1 <= ns0 || j1 < j0 {
		return 0, errors.New("/proc/timer_list: time did not move forward")
	}
	return nearestHZ(float64(j1-j0) / (float64(ns1-ns0) / 1e9)), nil
}

func nearestHZ(rate float64) int {
	best := hzChoices[0]
	for _, hz := range hzChoices {
		if math.Abs(rate-float64(hz)) < math.Abs(rate-float64(best)) {
			best = hz
		}
	}
	return best
}

// readTimerList returns the jiffies and the monotonic time in ns that
// /proc/timer_list shows: its "now at N nsecs" line and the first
// "jiffies: N" line after it, printed a moment later.
func readTimerList() (jiffies, ns uint64, err error) {
	f, err := os.Open("/proc/timer_list")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Bytes()
		if v, ok := bytes.CutPrefix(line, []byte("now at ")); ok && ns == 0 {
			v, _, _ = bytes.Cut(v, []byte(" "))
			ns, _ = strconv.ParseUint(string(v), 10, 64)
		}
		if v, ok := bytes.CutPrefix(line, []byte("jiffies: ")); ok && ns != 0 {
			jiffies, err = strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			return jiffies, ns, err
		}
	}
	if err := s.Err(); err != nil {
		return 0, 0, fmt.Errorf("reading /proc/timer_list: %w", err)
	}
	return 0, 0, errors.New("/proc/timer_list shows no \"now at\" and \"jiffies:\" lines")
}
