package main

import (
	"math"
	"slices"

	"github.com/kpcap/kpcap/analyze/stats"
)

// mannWhitneyP returns the two-sided p-value of the Mann-Whitney U test
// that a and b come from the same distribution, as benchstat uses to call
// a difference significant. It is exact (no ties, up to 20 values each)
// or the normal approximation with a tie correction otherwise; NaN if
// either sample is empty.
func mannWhitneyP(a, b []float64) float64 {
	m, n := len(a), len(b)
	if m == 0 || n == 0 {
		return math.NaN()
	}
	type obs struct {
		v   float64
		inA bool
	}
	all := make([]obs, 0, m+n)
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(x, y obs) int {
		switch {
		case x.v < y.v:
			return -1
		case x.v > y.v:
			return 1
		}
		return 0
	})
	// U of a: the sum of a's mid-ranks minus its least possible sum.
	rankA, ties, tieTerm := 0.0, false, 0.0
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		mid := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if all[k].inA {
				rankA += mid
			}
		}
		if t := float64(j - i); t > 1 {
			ties = true
			tieTerm += t*t*t - t
		}
		i = j
	}
	u := rankA - float64(m*(m+1))/2
	if !ties && m <= 20 && n <= 20 {
		return stats.ExactUP(m, n, u)
	}
	mu := float64(m*n) / 2
	N := float64(m + n)
	sigma := math.Sqrt(float64(m*n) / 12 * ((N + 1) - tieTerm/(N*(N-1))))
	if sigma == 0 {
		return 1
	}
	z := (math.Abs(u-mu) - 0.5) / sigma // continuity correction
	return math.Min(1, math.Erfc(max(z, 0)/math.Sqrt2))
}
