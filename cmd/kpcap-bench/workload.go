package main

// workloadSpec describes how to run and check one workload.
type workloadSpec struct {
	name   string // the workload binary's kind
	calls  int
	events []string
	perEv  uint64 // recorded events per call
	exact  bool   // only the loop makes these calls: the count is exact
	busy   bool   // another process spins on one CPU meanwhile
}
