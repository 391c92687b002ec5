package main

import (
	"math"
)

// bpfPathTargets holds the BPF path to what the recorder costs on the perf
// path (kpcap record in the same run): recorder CPU and bytes per event no
// worse. Recorder CPU varies from run to run by more than the two paths
// differ, so a difference the Mann-Whitney test does not find significant
// is a tie, as for the slowdowns. The perf column holds kpcap record's
// values.
func bpfPathTargets(w *Workload) []Target {
	b, k := w.tool(toolKpcapBPF), w.tool(toolKpcap)
	if b == nil || k == nil || b.Median.OK == 0 || k.Median.OK == 0 {
		return nil
	}
	runCPU := func(tr *ToolRuns) []float64 {
		var xs []float64
		for _, r := range tr.Runs {
			if r.Error == "" {
				xs = append(xs, r.RecorderCPU)
			}
		}
		return xs
	}
	bc, kc := float64(b.Median.RecorderCPU), float64(k.Median.RecorderCPU)
	cpu := target(w.Name, "recorder CPU, BPF path", "≤ kpcap record's", "kpcap record "+fmtS(k.Median.RecorderCPU),
		fmtS(b.Median.RecorderCPU)+" ("+fmtX(jfloat(ratio(bc, kc)))+")", bc, kc, 1)
	if p := mannWhitneyP(runCPU(b), runCPU(k)); !math.IsNaN(p) && cpu.Pass != nil {
		cpu.P = jfloat(p)
		if p > significance {
			cpu.Tie = true
			ok := true
			cpu.Pass = &ok
		}
	}
	bb, kb := float64(b.Median.BytesPerEvent), float64(k.Median.BytesPerEvent)
	bytes := target(w.Name, "bytes/event, BPF path", "≤ kpcap record's", "kpcap record "+fmtF(k.Median.BytesPerEvent, 1),
		fmtF(b.Median.BytesPerEvent, 1), bb, kb, 1)
	return []Target{cpu, bytes}
}
