package stats

import (
	"math"
	"slices"
)

// MannWhitneyGroups runs the two-sided Mann-Whitney U test on two small
// samples of one value per unit (e.g. the median latency of each host of a
// fleet), where units, not events, are the independent observations. The
// p-value is exact (the distribution of U counted over every ordering) when
// there are no ties and each side has at most 20 values, where the normal
// approximation is poor; otherwise it is MannWhitney's normal approximation
// with tie and continuity corrections. P is 1 when a side is empty.
func MannWhitneyGroups(a, b []uint64) TestResult {
	m, n := len(a), len(b)
	if m == 0 || n == 0 {
		return TestResult{P: 1}
	}
	res := MannWhitney(counted(a), counted(b))
	all := append(slices.Clone(a), b...)
	slices.Sort(all)
	ties := false
	for i := 1; i < len(all); i++ {
		ties = ties || all[i] == all[i-1]
	}
	if !ties && m <= 20 && n <= 20 {
		res.P = ExactUP(m, n, res.Statistic)
		res.Z = 0
	}
	return res
}

// counted turns values into sorted distinct values with counts.
func counted(v []uint64) []ValueCount {
	s := slices.Clone(v)
	slices.Sort(s)
	var out []ValueCount
	for _, x := range s {
		if len(out) > 0 && out[len(out)-1].Value == x {
			out[len(out)-1].Count++
			continue
		}
		out = append(out, ValueCount{x, 1})
	}
	return out
}

// ExactUP is the exact two-sided p-value of U = u (the number of (a, b)
// pairs with a > b, as MannWhitney's Statistic) for samples of m and n
// distinct values: twice the smaller tail of U's distribution. The table
// counts orderings by the number of pairs with the a first; the
// distribution is symmetric, so counting either way gives the same tails
// once u is mirrored.
func ExactUP(m, n int, u float64) float64 {
	maxU := m * n
	prev := make([][]float64, m+1)
	for j := range prev {
		prev[j] = make([]float64, maxU+1)
	}
	for j := 0; j <= m; j++ { // no b's yet: no pairs
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
