package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// Hidden switches for `make bench`, which prints the top of the CPU
// profile, and for anyone chasing where droptrace's time goes (`go tool
// pprof`): a file to write a CPU profile of the whole run to, and one to
// write the allocations of the whole run to at exit.
const (
	profileEnv    = "DROPTRACE_CPUPROFILE"
	memProfileEnv = "DROPTRACE_MEMPROFILE"
)

// startProfile starts the profiles the environment asks for and returns
// what ends them. A profile that cannot be written is said once and the
// run goes on.
func startProfile() (stop func()) {
	stopCPU := startCPUProfile(os.Getenv(profileEnv))
	return func() {
		stopCPU()
		writeMemProfile(os.Getenv(memProfileEnv))
	}
}

func startCPUProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "droptrace: %s: %v\n", profileEnv, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func writeMemProfile(path string) {
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		f.Close()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "droptrace: %s: %v\n", memProfileEnv, err)
	}
}
