package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// profileEnv names a file to write a CPU profile of the whole run to: a
// hidden switch for `make bench`, which prints the top of it, and for
// anyone chasing where droptrace's time goes (`go tool pprof`).
const profileEnv = "DROPTRACE_CPUPROFILE"

// startProfile starts the CPU profile profileEnv asks for and returns
// what stops it and closes the file; it does nothing without the variable.
// A profile that cannot be written is said once and the run goes on.
func startProfile() (stop func()) {
	path := os.Getenv(profileEnv)
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
