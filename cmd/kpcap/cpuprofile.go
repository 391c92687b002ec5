package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startCPUProfile writes a CPU profile of this run to $KPCAP_CPUPROFILE, if
// set: how cmd/kpcap/default.pgo (the profile-guided optimization input
// that go build picks up) is made; see README "Performance". The returned
// function stops it.
func startCPUProfile() (stop func()) {
	path := os.Getenv("KPCAP_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kpcap: KPCAP_CPUPROFILE: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "kpcap: KPCAP_CPUPROFILE: %v\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
