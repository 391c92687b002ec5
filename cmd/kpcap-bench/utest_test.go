package main

import (
	"math"
	"testing"
)

func TestMannWhitneyP(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []float64
		want float64
	}{
		// Fully separated samples of 5: the smallest possible p, 2/C(10,5).
		{"separated", []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}, 2.0 / 252},
		{"separated reversed", []float64{6, 7, 8, 9, 10}, []float64{1, 2, 3, 4, 5}, 2.0 / 252},
		// Interleaved: no evidence of a difference (U = 10 of 25; the
		// p-value checked by enumerating all 252 splits).
		{"interleaved", []float64{1, 3, 5, 7, 9}, []float64{2, 4, 6, 8, 10}, 174.0 / 252},
		// 3 vs 3, one swap from separated: U = 1, P(U <= 1) = 2/20.
		{"one swap", []float64{1, 2, 4}, []float64{3, 5, 6}, 0.2},
		// Unequal sizes (p-values from enumerating every split).
		{"4 vs 6", []float64{1, 4, 5, 9}, []float64{2, 3, 6, 7, 8, 10}, 64.0 / 105},
		{"6 vs 3", []float64{10, 11, 12, 13, 14, 15}, []float64{1, 2, 16}, 23.0 / 42},
		// Ties use the normal approximation.
		{"ties", []float64{1, 1, 1, 1, 1}, []float64{1, 1, 1, 1, 1}, 1},
	} {
		got := mannWhitneyP(tc.a, tc.b)
		if math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: p = %g, want %g", tc.name, got, tc.want)
		}
	}
	if p := mannWhitneyP(nil, []float64{1}); !math.IsNaN(p) {
		t.Errorf("empty sample: p = %g, want NaN", p)
	}
	// Normal approximation on large separated samples: tiny p.
	var a, b []float64
	for i := range 30 {
		a, b = append(a, float64(i)), append(b, float64(100+i))
	}
	if p := mannWhitneyP(a, b); p > 1e-6 {
		t.Errorf("30 vs 30 separated: p = %g", p)
	}
}

// TestSlowdownTarget: a slowdown target is met when kpcap is significantly
// better or not significantly different, and missed only when it is
// significantly worse than the better perf tool.
func TestSlowdownTarget(t *testing.T) {
	tool := func(name string, ns ...int64) *ToolRuns {
		tr := &ToolRuns{Tool: name}
		for i, v := range ns {
			tr.Runs = append(tr.Runs, &Run{Rep: i + 1, WorkloadNS: v})
		}
		xs := make([]float64, len(ns))
		for i, v := range ns {
			xs[i] = float64(v)
		}
		tr.Median = Medians{OK: len(ns), Slowdown: jfloat(median(xs) / 100)}
		return tr
	}
	perf := []int64{500, 510, 490, 505, 495}
	for _, tc := range []struct {
		name      string
		kpcap     []int64
		pass, tie bool
	}{
		{"worse", []int64{520, 530, 525, 540, 515}, false, false},
		{"better", []int64{450, 460, 455, 470, 440}, true, false},
		{"noise, median above", []int64{502, 512, 488, 508, 499}, true, true},
		{"noise, median below", []int64{498, 508, 486, 503, 492}, true, true},
	} {
		w := &Workload{Name: "w", Tools: []*ToolRuns{tool(toolPerf, perf...), tool(toolPerfZ, 600, 610, 620, 630, 640), tool(toolKpcap, tc.kpcap...)}}
		got := slowdownTarget(w, "workload slowdown", func(m *Medians) float64 { return float64(m.Slowdown) }, func(r *Run) float64 { return float64(r.WorkloadNS) })
		if got.Pass == nil || *got.Pass != tc.pass || got.Tie != tc.tie || got.Perf != "5.00x" {
			t.Errorf("%s: %+v (pass %v), want pass %v tie %v against perf's 5.00x", tc.name, got, got.Pass != nil && *got.Pass, tc.pass, tc.tie)
		}
	}
}
