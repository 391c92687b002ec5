package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// permutationP is the exact two-sided p-value by enumerating every split of
// the pooled values into groups of len(a) and len(b).
func permutationP(a, b []uint64) float64 {
	all := append(append([]uint64(nil), a...), b...)
	n, m := len(all), len(a)
	u := func(mask int) float64 {
		var x, y []uint64
		for i, v := range all {
			if mask&(1<<i) != 0 {
				x = append(x, v)
			} else {
				y = append(y, v)
			}
		}
		c := 0.0
		for _, p := range x {
			for _, q := range y {
				if p > q {
					c++
				}
			}
		}
		return c
	}
	obs := u((1 << m) - 1)
	mu := float64(len(a)*len(b)) / 2
	var extreme, total float64
	for mask := 0; mask < 1<<n; mask++ {
		if popcount(mask) != m {
			continue
		}
		total++
		if math.Abs(u(mask)-mu) >= math.Abs(obs-mu)-1e-9 {
			extreme++
		}
	}
	return extreme / total
}

func popcount(x int) int {
	c := 0
	for ; x != 0; x &= x - 1 {
		c++
	}
	return c
}

func TestMannWhitneyGroupsExact(t *testing.T) {
	if p := MannWhitneyGroups([]uint64{1, 2, 3}, []uint64{4, 5, 6}).P; math.Abs(p-0.1) > 1e-12 {
		t.Fatalf("p = %v, want 0.1 (2 of 20 orderings)", p)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 40; trial++ {
		m, n := 1+rng.IntN(6), 1+rng.IntN(6)
		seen := map[uint64]bool{}
		draw := func(k int, shift uint64) []uint64 {
			var out []uint64
			for len(out) < k {
				v := rng.Uint64N(100) + shift
				if !seen[v] {
					seen[v] = true
					out = append(out, v)
				}
			}
			return out
		}
		a, b := draw(m, 0), draw(n, uint64(rng.IntN(60)))
		got, want := MannWhitneyGroups(a, b).P, permutationP(a, b)
		if math.Abs(got-want) > 1e-9 {
			t.Fatalf("%v vs %v: p = %v, permutation test %v", a, b, got, want)
		}
	}
	// Ties fall back to the normal approximation.
	if r := MannWhitneyGroups([]uint64{1, 1, 2}, []uint64{2, 3, 3}); r.Z == 0 {
		t.Fatalf("ties: %+v, want the normal approximation", r)
	}
	if r := MannWhitneyGroups(nil, []uint64{1}); r.P != 1 {
		t.Fatalf("empty side: %+v", r)
	}
}

func TestMerge(t *testing.T) {
	a, b, all := NewDist(nil), NewDist(nil), NewDist(nil)
	for i := uint64(0); i < 1000; i++ {
		v := i * 7919 % 1013
		if i%3 == 0 {
			a.Add(v)
		} else {
			b.Add(v)
		}
		all.Add(v)
	}
	a.Merge(b)
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 1} {
		if a.Quantile(q) != all.Quantile(q) {
			t.Errorf("q%v: merged %d, direct %d", q, a.Quantile(q), all.Quantile(q))
		}
	}
	if a.Count() != all.Count() || a.Mean() != all.Mean() || a.Min() != all.Min() || a.Max() != all.Max() || !a.Exact() {
		t.Errorf("merged %+v", a)
	}
	// Past the budget the merge answers from the histogram, within 1/128.
	bud := NewBudget(10)
	c := NewDist(bud)
	c.Merge(all)
	if c.Exact() || c.Count() != 1000 {
		t.Fatalf("over budget: exact %v, count %d", c.Exact(), c.Count())
	}
	got, want := float64(c.Quantile(0.5)), float64(all.Quantile(0.5))
	if math.Abs(got-want) > want/128+1 {
		t.Errorf("bucketed p50 %v, exact %v", got, want)
	}
	if bud.remaining != 10 {
		t.Errorf("budget left %d, want 10", bud.remaining)
	}
}
