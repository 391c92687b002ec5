package main

import (
	"math"
	"slices"
)

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratio returns a/b, or NaN when either is unknown or b is 0.
func ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return a / b
}

// Verdicts of recorded+lost against the expected count.
const (
	verdictExact      = "exact"       // recorded == expected
	verdictWithinLoss = "within loss" // recorded < expected <= recorded+lost
	verdictAtLeast    = "≥ expected"  // inexact workloads: recorded >= the lower bound
	verdictMismatch   = "MISMATCH"    // samples missing without a loss report, or extra samples
)

// verdict compares recorded (unique samples of the workload pid) and lost
// (all the tracer reported lost, any pid) with the expected count, exact or a
// lower bound.
func verdict(recorded, lost, expected uint64, exact bool) string {
	switch {
	case exact && recorded == expected:
		return verdictExact
	case !exact && recorded >= expected:
		return verdictAtLeast
	case recorded < expected && recorded+lost >= expected:
		return verdictWithinLoss
	}
	return verdictMismatch
}

// verdictOrder is the order verdict counts are printed in.
var verdictOrder = []string{verdictExact, verdictAtLeast, verdictWithinLoss, verdictMismatch}

// summarize fills t.Median from t.Runs; untracedMS is the untraced median.
func summarize(t *ToolRuns, untracedNS, untracedCPU float64, expected uint64) {
	var ns, wcpu, cpu, rss, total, pid, dup, lost, bytes, bpe, rpl []float64
	m := Medians{}
	for _, r := range t.Runs {
		if r.Error != "" {
			continue
		}
		m.OK++
		ns = append(ns, float64(r.WorkloadNS))
		wcpu = append(wcpu, float64(r.WorkloadCPU))
		if t.Tool == toolUntraced {
			continue
		}
		cpu = append(cpu, r.RecorderCPU)
		rss = append(rss, float64(r.RecorderRSS))
		bytes = append(bytes, float64(r.FileBytes))
		if c := r.Counts; c != nil {
			total = append(total, float64(c.Total))
			pid = append(pid, float64(c.PID))
			dup = append(dup, float64(c.Duplicates))
			lost = append(lost, float64(c.Lost))
			rpl = append(rpl, float64(c.PID+c.Lost))
			if c.Lost > 0 {
				m.LostRuns++
			}
			if c.Total > 0 {
				bpe = append(bpe, float64(r.FileBytes)/float64(c.Total))
			}
			if m.Verdicts == nil {
				m.Verdicts = map[string]int{}
			}
			m.Verdicts[r.Verdict]++
		}
	}
	untraced := t.Tool == toolUntraced
	tracedOnly := func(v float64) jfloat {
		if untraced {
			return jfloat(math.NaN())
		}
		return jfloat(v)
	}
	m.WorkloadMS = jfloat(median(ns) / 1e6)
	m.Slowdown = jfloat(ratio(median(ns), untracedNS))
	m.WorkloadCPUMS = jfloat(median(wcpu) / 1e6)
	m.CPUSlowdown = jfloat(ratio(median(wcpu), untracedCPU))
	m.OverheadNS = jfloat(math.NaN())
	if expected > 0 && !untraced {
		// From CPU time: wall time also counts waiting for the CPU.
		m.OverheadNS = jfloat((median(wcpu) - untracedCPU) / float64(expected))
	}
	m.RecorderCPU = tracedOnly(median(cpu))
	m.RecorderRSS = tracedOnly(median(rss))
	m.Total = tracedOnly(median(total))
	m.PID = tracedOnly(median(pid))
	m.Duplicates = tracedOnly(median(dup))
	m.Lost = tracedOnly(median(lost))
	m.FileBytes = tracedOnly(median(bytes))
	m.BytesPerEvent = tracedOnly(median(bpe))
	m.RecordedPlusLost = tracedOnly(median(rpl))
	t.Median = m
}

func (w *Workload) tool(name string) *ToolRuns {
	for _, t := range w.Tools {
		if t.Tool == name {
			return t
		}
	}
	return nil
}

func (w *Workload) analysis(name string) *Analysis {
	for _, a := range w.Analysis {
		if a.Name == name {
			return a
		}
	}
	return nil
}
