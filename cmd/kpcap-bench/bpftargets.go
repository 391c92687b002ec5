package main

import (
	"math"
)

// bpfPathTargets holds the BPF path to what the recorder costs on the perf
// path (kpcap record in the same run): recorder CPU and bytes per event no
// worse. Both vary from run to run by more than the two paths differ
// (bytes per event with what else the machine ran while recording
// system-wide), so a difference the Mann-Whitney test does not find
// significant is a tie, as for the slowdowns. The perf column holds kpcap
// record's values.
func bpfPathTargets(w *Workload) []Target {
	b, k := w.tool(toolKpcapBPF), w.tool(toolKpcap)
	if b == nil || k == nil || b.Median.OK == 0 || k.Median.OK == 0 {
		return nil
	}
	bc, kc := float64(b.Median.RecorderCPU), float64(k.Median.RecorderCPU)
	cpu := target(w.Name, "recorder CPU, BPF path", "≤ kpcap record's", "kpcap record "+fmtS(k.Median.RecorderCPU),
		fmtS(b.Median.RecorderCPU)+" ("+fmtX(jfloat(ratio(bc, kc)))+")", bc, kc, 1)
	tieUnlessSignificant(&cpu, b, k, func(r *Run) (float64, bool) { return r.RecorderCPU, true })
	bb, kb := float64(b.Median.BytesPerEvent), float64(k.Median.BytesPerEvent)
	bytes := target(w.Name, "bytes/event, BPF path", "≤ kpcap record's", "kpcap record "+fmtF(k.Median.BytesPerEvent, 1),
		fmtF(b.Median.BytesPerEvent, 1), bb, kb, 1)
	tieUnlessSignificant(&bytes, b, k, func(r *Run) (float64, bool) {
		if r.Counts == nil || r.Counts.Total == 0 {
			return 0, false
		}
		return float64(r.FileBytes) / float64(r.Counts.Total), true
	})
	return []Target{cpu, bytes}
}

// tieUnlessSignificant makes target t a tie (a pass) when the Mann-Whitney
// test finds no significant difference between tools a's and b's per-run
// values.
func tieUnlessSignificant(t *Target, a, b *ToolRuns, val func(*Run) (float64, bool)) {
	vals := func(tr *ToolRuns) []float64 {
		var xs []float64
		for _, r := range tr.Runs {
			if v, ok := val(r); ok && r.Error == "" {
				xs = append(xs, v)
			}
		}
		return xs
	}
	p := mannWhitneyP(vals(a), vals(b))
	if math.IsNaN(p) || t.Pass == nil {
		return
	}
	t.P = jfloat(p)
	if p > significance {
		t.Tie = true
		ok := true
		t.Pass = &ok
	}
}
