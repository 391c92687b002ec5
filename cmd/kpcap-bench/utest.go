package main

import (
	"math"
	"slices"
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
		return exactUP(m, n, u)
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

// exactUP is the exact two-sided p-value of U = u for samples of m and n
// distinct values: twice the smaller tail of U's distribution, counted
// over all orderings.
func exactUP(m, n int, u float64) float64 {
	// prev/cur[j][k]: orderings of j a's and i b's in which k (a, b)
	// pairs have the a first, built one element at a time: an ordering
	// ending in a b adds j such pairs, one ending in an a adds none.
	maxU := m * n
	prev := make([][]float64, m+1)
	for j := range prev {
		prev[j] = make([]float64, maxU+1)
	}
	prev[0][0] = 1
	for j := 1; j <= m; j++ { // no b's yet: U = 0
		prev[j][0] = 1
	}
	for i := 1; i <= n; i++ {
		cur := make([][]float64, m+1)
		for j := range cur {
			cur[j] = make([]float64, maxU+1)
		}
		for j := 0; j <= m; j++ {
			for k := 0; k <= maxU; k++ {
				v := 0.0
				if k-j >= 0 {
					v += prev[j][k-j] // ends in a b: all j a's precede it
				}
				if j > 0 {
					v += cur[j-1][k] // ends in an a: no b follows it
				}
				cur[j][k] = v
			}
		}
		prev = cur
	}
	counts := prev[m]
	total := 0.0
	for _, c := range counts {
		total += c
	}
	// U here counts pairs (a < b); mannWhitneyP's u counts pairs (a > b).
	k := int(math.Round(float64(maxU) - u))
	lo, hi := 0.0, 0.0
	for x := 0; x <= maxU; x++ {
		if x <= k {
			lo += counts[x]
		}
		if x >= k {
			hi += counts[x]
		}
	}
	return math.Min(1, 2*math.Min(lo, hi)/total)
}
