package main

import (
	"fmt"
	"math"
)

// minPerf returns the smaller of f(perf) and f(perf -z), ignoring unknowns,
// and which tool it is ("" if neither is known): kpcap is compared with
// perf's best configuration.
func minPerf(w *Workload, f func(*Medians) float64) (float64, string) {
	best, tool := math.NaN(), ""
	for _, name := range []string{toolPerf, toolPerfZ} {
		if t := w.tool(name); t != nil && t.Median.OK > 0 {
			v := f(&t.Median)
			if !math.IsNaN(v) && (math.IsNaN(best) || v < best) {
				best, tool = v, name
			}
		}
	}
	return best, tool
}

// significance is the p-value under which a slowdown difference counts.
const significance = 0.05

// slowdownTarget compares kpcap's slowdown (med) with the better perf
// tool's; runVal gives the per-run values tested for a difference.
func slowdownTarget(w *Workload, name string, med func(*Medians) float64, runVal func(*Run) float64) Target {
	k := w.tool(toolKpcap)
	best, bestTool := minPerf(w, med)
	kv := med(&k.Median)
	t := target(w.Name, name, "≤ perf's", fmtX(best), fmtX(kv)+pairedNote(w, runVal, 1), kv, best, 1)
	if bestTool == "" || t.Pass == nil {
		return t
	}
	vals := func(tr *ToolRuns) []float64 {
		var xs []float64
		for _, r := range tr.Runs {
			if r.Error == "" {
				xs = append(xs, runVal(r))
			}
		}
		return xs
	}
	p := mannWhitneyP(vals(k), vals(w.tool(bestTool)))
	if math.IsNaN(p) {
		return t
	}
	t.P = jfloat(p)
	if p > significance {
		// Not significantly different: not worse, whichever median is lower.
		t.Tie = true
		ok := true
		t.Pass = &ok
	}
	return t
}

// pairedWins counts the repetitions where kpcap's run and both perf runs
// succeeded, and those where kpcap's value was at most factor times the
// better perf run's.
func pairedWins(w *Workload, f func(*Run) float64, factor float64) (wins, n int) {
	k := w.tool(toolKpcap)
	if k == nil {
		return 0, 0
	}
	for _, kr := range k.Runs {
		if kr.Error != "" {
			continue
		}
		best, ok := math.Inf(1), false
		for _, name := range []string{toolPerf, toolPerfZ} {
			if t := w.tool(name); t != nil {
				for _, pr := range t.Runs {
					if pr.Rep == kr.Rep && pr.Error == "" {
						best, ok = min(best, f(pr)), true
					}
				}
			}
		}
		if ok {
			n++
			if f(kr) <= best*factor {
				wins++
			}
		}
	}
	return wins, n
}

// pairedNote is pairedWins as a suffix for a target's kpcap column.
func pairedNote(w *Workload, f func(*Run) float64, factor float64) string {
	wins, n := pairedWins(w, f, factor)
	if n < 2 {
		return ""
	}
	return fmt.Sprintf(" (met in %d/%d paired runs)", wins, n)
}

// evaluateTargets compares kpcap with perf per workload.
func evaluateTargets(ws []*Workload) []Target {
	var out []Target
	pass := func(ok bool) *bool { return &ok }
	for _, w := range ws {
		k := w.tool(toolKpcap)
		if k == nil || k.Median.OK == 0 {
			continue
		}
		km := &k.Median
		// Slowdown: no worse than perf's best. Both tools' slowdown is the
		// same in-kernel path, so medians a few percent apart are often
		// noise: the runs decide by a Mann-Whitney U test (as benchstat
		// does), and a difference that is not significant is a tie.
		out = append(out,
			slowdownTarget(w, "workload slowdown", func(m *Medians) float64 { return float64(m.Slowdown) }, func(r *Run) float64 { return float64(r.WorkloadNS) }),
			slowdownTarget(w, "workload CPU slowdown", func(m *Medians) float64 { return float64(m.CPUSlowdown) }, func(r *Run) float64 { return float64(r.WorkloadCPU) }))
		pc, _ := minPerf(w, func(m *Medians) float64 { return float64(m.RecorderCPU) })
		out = append(out, target(w.Name, "recorder CPU", "≤ ½ perf's", fmtS(pc),
			fmtS(km.RecorderCPU)+pairedNote(w, func(r *Run) float64 { return r.RecorderCPU }, 0.5), float64(km.RecorderCPU), pc, 0.5))
		// Loss: 0 in every repetition where perf (uncompressed) lost 0.
		if p := w.tool(toolPerf); p != nil {
			cleanReps, kpcapLossy := 0, 0
			for _, pr := range p.Runs {
				if pr.Error != "" || pr.Counts == nil || pr.Counts.Lost != 0 {
					continue
				}
				for _, kr := range k.Runs {
					if kr.Rep == pr.Rep && kr.Error == "" && kr.Counts != nil {
						cleanReps++
						if kr.Counts.Lost != 0 {
							kpcapLossy++
						}
					}
				}
			}
			t := Target{Workload: w.Name, Name: "samples lost", Goal: "0 where perf lost 0",
				Perf:  fmt.Sprintf("0 lost in %d/%d runs", cleanReps, len(p.Runs)),
				Kpcap: fmt.Sprintf("lost in %d of those", kpcapLossy)}
			if cleanReps > 0 {
				t.Pass = pass(kpcapLossy == 0)
			}
			out = append(out, t)
		}
		if t, ok := bpfCostTarget(w); ok {
			out = append(out, t)
		}
		out = append(out, bpfPathTargets(w)...)
		if t, ok := snapshotTarget(w); ok {
			out = append(out, t)
		}
		if z := w.tool(toolPerfZ); z != nil && z.Median.OK > 0 {
			out = append(out, target(w.Name, "bytes/event", "≤ perf -z's", fmtF(z.Median.BytesPerEvent, 1), fmtF(km.BytesPerEvent, 1), float64(km.BytesPerEvent), float64(z.Median.BytesPerEvent), 1))
		}
		for _, g := range []struct {
			name string
			min  float64
		}{{"kpcap replay", 5}, {"kpcap analyze summary", 20}} {
			ps, ka := w.analysis("perf script"), w.analysis(g.name)
			if ps == nil || ka == nil {
				continue
			}
			t := Target{Workload: w.Name, Name: g.name + " speed", Goal: fmt.Sprintf("≥ %gx perf script", g.min),
				Perf: fmtRate(ps.EventsPerSec), Kpcap: fmtRate(ka.EventsPerSec) + " (" + fmtX(ka.VsPerfScript) + ")"}
			if !math.IsNaN(float64(ka.VsPerfScript)) && ka.Error == "" && ps.Error == "" {
				t.Pass = pass(float64(ka.VsPerfScript) >= g.min)
			}
			out = append(out, t)
		}
	}
	return out
}

// bpfCostGoal is the target for the BPF path: at most half the
// in-kernel cost per event that the perf sample path adds.
const bpfCostGoal = 0.5

// bpfCostTarget compares the workload CPU time the BPF path adds per event
// with perf record's: the ratio of the medians, and its spread over the
// repetitions (each BPF run against the perf run of the same repetition,
// both less the untraced median).
func bpfCostTarget(w *Workload) (Target, bool) {
	k, p, u := w.tool(toolKpcapBPF), w.tool(toolPerf), w.tool(toolUntraced)
	if k == nil || p == nil || u == nil || k.Median.OK == 0 || p.Median.OK == 0 || w.Expected == 0 {
		return Target{}, false
	}
	kv, pv := float64(k.Median.OverheadNS), float64(p.Median.OverheadNS)
	r := ratio(kv, pv)
	lo, hi := bpfCostSpread(w)
	kpcap := fmt.Sprintf("%s ns (%s", fmtF(kv, 0), fmtX(r))
	if !math.IsNaN(lo) {
		kpcap += fmt.Sprintf(", runs %s–%s", fmtX(lo), fmtX(hi))
	}
	kpcap += ")"
	t := Target{Workload: w.Name, Name: "added workload CPU per event, BPF path", Goal: fmt.Sprintf("≤ %g× perf's", bpfCostGoal),
		Perf: fmtF(pv, 0) + " ns", Kpcap: kpcap}
	if !math.IsNaN(r) && pv > 0 {
		ok := r <= bpfCostGoal
		t.Pass = &ok
	}
	return t, true
}

// bpfCostSpread returns the smallest and largest per-repetition ratio of
// the BPF path's added CPU per event to perf record's (NaN without two
// paired runs). Each repetition's added CPU is taken over its own
// untraced run where it has one: on a shared machine another tracer on
// the syscall tracepoints (which puts every task on the slow syscall
// path) can raise all tools' times for a while, and a baseline from
// other repetitions would count that as the tools' cost.
func bpfCostSpread(w *Workload) (lo, hi float64) {
	lo, hi = math.NaN(), math.NaN()
	u := w.tool(toolUntraced)
	if u == nil || !(u.Median.OK > 0) || w.Expected == 0 {
		return
	}
	n := 0
	for _, kr := range w.tool(toolKpcapBPF).Runs {
		for _, pr := range w.tool(toolPerf).Runs {
			if kr.Error != "" || pr.Error != "" || kr.Rep != pr.Rep {
				continue
			}
			base := untracedCPU(u, kr.Rep)
			pa := float64(pr.WorkloadCPU) - base
			if pa <= 0 {
				continue
			}
			v := (float64(kr.WorkloadCPU) - base) / pa
			if n == 0 || v < lo {
				lo = v
			}
			if n == 0 || v > hi {
				hi = v
			}
			n++
		}
	}
	if n < 2 {
		return math.NaN(), math.NaN()
	}
	return lo, hi
}

// untracedCPU returns the untraced workload CPU (ns) of repetition rep,
// or the untraced median when that run failed.
func untracedCPU(u *ToolRuns, rep int) float64 {
	for _, r := range u.Runs {
		if r.Rep == rep && r.Error == "" {
			return float64(r.WorkloadCPU)
		}
	}
	return float64(u.Median.WorkloadCPUMS) * 1e6
}

// baselineNote says when the untraced runs of a workload differ by more
// than half: the machine's state, not only the tools, changed between
// repetitions, and medians over them mix the two.
func baselineNote(w *Workload) string {
	u := w.tool(toolUntraced)
	if u == nil {
		return ""
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range u.Runs {
		if r.Error == "" && r.WorkloadCPU > 0 {
			lo, hi = min(lo, float64(r.WorkloadCPU)), max(hi, float64(r.WorkloadCPU))
		}
	}
	if math.IsInf(lo, 0) || hi <= 1.5*lo {
		return ""
	}
	return fmt.Sprintf("%s: the untraced runs took %s to %s ms of thread CPU: other work on the machine (another tracer on the same tracepoints puts every task on the slow syscall path) changed the baseline between repetitions; the BPF cost spread takes each repetition over its own untraced run",
		w.Name, fmtF(lo/1e6, 0), fmtF(hi/1e6, 0))
}

// target builds a "kpcap <= factor*perf" target.
func target(workload, name, goal, perf, kpcap string, k, p, factor float64) Target {
	t := Target{Workload: workload, Name: name, Goal: goal, Perf: perf, Kpcap: kpcap}
	if !math.IsNaN(k) && !math.IsNaN(p) {
		ok := k <= p*factor
		t.Pass = &ok
	}
	return t
}

// snapshotTarget compares the flight recorder's CPU with a plain
// recording's on the same workload: the bound is 10 % more.
func snapshotTarget(w *Workload) (Target, bool) {
	k, s := w.tool(toolKpcap), w.tool(toolKpcapSnap)
	if k == nil || s == nil || k.Median.OK == 0 || s.Median.OK == 0 {
		return Target{}, false
	}
	kc, sc := float64(k.Median.RecorderCPU), float64(s.Median.RecorderCPU)
	t := target(w.Name, "flight recorder CPU", "≤ 1.1x kpcap record's", "kpcap record "+fmtS(k.Median.RecorderCPU),
		fmtS(s.Median.RecorderCPU)+" ("+fmtX(jfloat(ratio(sc, kc)))+")", sc, kc, 1.1)
	return t, true
}
