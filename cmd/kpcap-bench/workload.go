package main

// workloadSpec describes how to run and check one workload.
type workloadSpec struct {
	name   string // the workload binary's kind
	calls  int
	events []string
	perEv  uint64 // recorded events per call
	exact  bool   // only the loop makes these calls: the count is exact
	busy   bool   // another process spins on one CPU meanwhile
	probes bool   // events are probe definitions (kpcap record -p), which only kpcap's tools run
}

// eventFlag is the kpcap record flag that names each of the events.
func (s workloadSpec) eventFlag() string {
	if s.probes {
		return "-p"
	}
	return "-e"
}

// supports reports whether tool can record the workload: perf record and
// bpftrace need probes made for them, which the benchmark does not do.
func (s workloadSpec) supports(tool string) bool {
	return !s.probes || tool == toolUntraced || isKpcap(tool)
}
