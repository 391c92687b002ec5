package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func vc(vals ...uint64) []ValueCount {
	d := NewDist(nil)
	for _, v := range vals {
		d.Add(v)
	}
	return d.Values(false)
}

func TestQuantileExact(t *testing.T) {
	d := NewDist(nil)
	for v := uint64(1); v <= 1000; v++ {
		d.Add(1001 - v) // unsorted input
	}
	for _, tc := range []struct {
		q    float64
		want uint64
	}{{0, 1}, {0.5, 500}, {0.9, 900}, {0.99, 990}, {0.999, 999}, {1, 1000}, {0.0001, 1}} {
		if got := d.Quantile(tc.q); got != tc.want {
			t.Errorf("Quantile(%v) = %d, want %d", tc.q, got, tc.want)
		}
	}
	if !d.Exact() || d.Max() != 1000 || d.Min() != 1 || d.Count() != 1000 {
		t.Fatalf("exact=%v max=%d min=%d n=%d", d.Exact(), d.Max(), d.Min(), d.Count())
	}
}

func TestQuantileSingle(t *testing.T) {
	d := NewDist(nil)
	d.Add(42)
	for _, q := range []float64{0, 0.5, 0.999, 1} {
		if got := d.Quantile(q); got != 42 {
			t.Errorf("Quantile(%v) = %d", q, got)
		}
	}
	if NewDist(nil).Quantile(0.5) != 0 {
		t.Error("empty dist quantile not 0")
	}
}

// TestQuantileBudget checks that a distribution past its budget answers
// within the documented 1/128 relative error, and gives the room back.
func TestQuantileBudget(t *testing.T) {
	b := NewBudget(1000)
	d := NewDist(b)
	r := rand.New(rand.NewPCG(1, 2))
	var all []uint64
	for range 100000 {
		v := uint64(r.ExpFloat64() * 1e6)
		all = append(all, v)
		d.Add(v)
	}
	if d.Exact() {
		t.Fatal("still exact past budget")
	}
	if b.remaining != 1000 {
		t.Fatalf("budget not returned: %d", b.remaining)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := all[nearestRank(q, uint64(len(all)))-1]
		got := d.Quantile(q)
		if rel := math.Abs(float64(got)-float64(want)) / float64(want); rel > 1.0/128 {
			t.Errorf("q%v: got %d want %d (rel err %.4f)", q, got, want, rel)
		}
	}
	if d.Quantile(1) != all[len(all)-1] {
		t.Errorf("max %d want %d", d.Quantile(1), all[len(all)-1])
	}
}

func TestBuckets(t *testing.T) {
	// Every value lies in its bucket, buckets are contiguous and never
	// wider than lo/128.
	prevHi := uint64(0)
	for i := 0; i < linearMax+40*subBuckets; i++ {
		lo, hi := bucketRange(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d [%d,%d] maps to %d,%d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if lo >= linearMax && float64(hi-lo+1) > float64(lo)/subBuckets {
			t.Fatalf("bucket %d too wide", i)
		}
		prevHi = hi
	}
	if bucketOf(^uint64(0)) <= 0 {
		t.Fatal("max value")
	}
	lo, hi := bucketRange(bucketOf(^uint64(0)))
	if hi != ^uint64(0) || lo > hi {
		t.Fatalf("top bucket [%d,%d]", lo, hi)
	}
}

func TestLog2(t *testing.T) {
	d := NewDist(nil)
	for _, v := range []uint64{0, 1, 2, 3, 4, 7, 8, 1000, 1023, 1024} {
		d.Add(v)
	}
	got := d.Log2()
	want := []Log2Bucket{
		{0, 1, 2}, {2, 3, 2}, {4, 7, 2}, {8, 15, 1}, {16, 31, 0}, {32, 63, 0}, {64, 127, 0},
		{128, 255, 0}, {256, 511, 0}, {512, 1023, 2}, {1024, 2047, 1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Log2 =\n%v\nwant\n%v", got, want)
	}
	d = NewDist(nil)
	d.Add(5000)
	if got := d.Log2(); len(got) != 1 || got[0] != (Log2Bucket{4096, 8191, 1}) {
		t.Fatalf("single: %v", got)
	}
}

// naiveMW computes U by comparing every pair and the tie term from explicit
// ranks: an independent check of the merged-walk implementation.
func naiveMW(a, b []uint64) (u, tie float64) {
	for _, x := range a {
		for _, y := range b {
			switch {
			case x > y:
				u++
			case x == y:
				u += 0.5
			}
		}
	}
	counts := map[uint64]float64{}
	for _, x := range append(slices.Clone(a), b...) {
		counts[x]++
	}
	for _, c := range counts {
		tie += c*c*c - c
	}
	return u, tie
}

func TestMannWhitney(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []uint64
		p    float64 // reference p-value, -1 = only check against naive U
	}{
		// scipy.stats.mannwhitneyu([1,2,3],[4,5,6], method="asymptotic"):
		// U=0, z=-(4.5-0.5)/sqrt(5.25), p=0.080855...
		{"separated", []uint64{1, 2, 3}, []uint64{4, 5, 6}, 0.0808556},
		{"identical", []uint64{1, 2, 3}, []uint64{1, 2, 3}, 1},
		// Ties across samples: U=2.5 of 16, n=8, tie term (3 twos, 2 threes)
		// = 24+6 = 30, sigma^2 = 16/12*(9-30/56) = 11.2857, z=(2.5-8+0.5)/3.35942
		// = -1.48835, p = erfc(1.48835/sqrt2) = 0.136658.
		{"ties", []uint64{1, 2, 2, 3}, []uint64{2, 3, 4, 5}, 0.136658},
		{"random", []uint64{5, 9, 3, 3, 7, 12, 40, 1}, []uint64{3, 8, 8, 20, 21, 22, 30}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := MannWhitney(vc(tc.a...), vc(tc.b...))
			u, _ := naiveMW(tc.a, tc.b)
			if math.Abs(r.Statistic-u) > 1e-9 {
				t.Errorf("U = %v, naive %v", r.Statistic, u)
			}
			if tc.p >= 0 && math.Abs(r.P-tc.p) > 1e-5 {
				t.Errorf("p = %.7f, want %.7f", r.P, tc.p)
			}
			if r.P < 0 || r.P > 1 {
				t.Errorf("p out of range: %v", r.P)
			}
		})
	}
	if r := MannWhitney(nil, vc(1)); r.P != 1 {
		t.Errorf("empty sample p=%v", r.P)
	}
	if r := MannWhitney(vc(7, 7), vc(7, 7, 7)); r.P != 1 {
		t.Errorf("all tied p=%v", r.P)
	}
}

func TestMannWhitneyLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	a, b := NewDist(nil), NewDist(nil)
	same := NewDist(nil)
	for range 2000 {
		a.Add(uint64(r.NormFloat64()*100 + 10000))
		b.Add(uint64(r.NormFloat64()*100 + 10030)) // shifted by 0.3 sigma
		same.Add(uint64(r.NormFloat64()*100 + 10000))
	}
	if p := MannWhitney(a.Values(false), b.Values(false)).P; p > 1e-6 {
		t.Errorf("shifted samples: p=%g, want tiny", p)
	}
	if p := MannWhitney(a.Values(false), same.Values(false)).P; p < 0.01 {
		t.Errorf("same distribution: p=%g, want large", p)
	}
	if p := KS(a.Values(false), b.Values(false)).P; p > 1e-4 {
		t.Errorf("KS shifted: p=%g", p)
	}
	if p := KS(a.Values(false), same.Values(false)).P; p < 0.01 {
		t.Errorf("KS same: p=%g", p)
	}
}

func TestKolmogorovQ(t *testing.T) {
	// Tabulated critical values of the Kolmogorov distribution.
	for _, tc := range []struct{ x, p float64 }{
		{1.2238, 0.10}, {1.3581, 0.05}, {1.6276, 0.01}, {1.9495, 0.001}, {0.1, 1},
	} {
		if got := KolmogorovQ(tc.x); math.Abs(got-tc.p) > 5e-4 {
			t.Errorf("Q(%v) = %.5f, want %.5f", tc.x, got, tc.p)
		}
	}
}

func TestKS(t *testing.T) {
	a := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	b := []uint64{6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	r := KS(vc(a...), vc(b...))
	if r.Statistic != 0.5 {
		t.Fatalf("D = %v, want 0.5", r.Statistic)
	}
	// ne = 5, lambda = (sqrt5 + 0.12 + 0.11/sqrt5) * 0.5 = 1.202676
	if want := KolmogorovQ(1.202676); math.Abs(r.P-want) > 1e-4 || r.P < 0.1 || r.P > 0.12 {
		t.Fatalf("p = %v, want %v", r.P, want)
	}
	if r := KS(vc(a...), vc(a...)); r.Statistic != 0 || r.P != 1 {
		t.Fatalf("identical: %+v", r)
	}
}

func BenchmarkDistAdd(b *testing.B) {
	d := NewDist(NewBudget(1 << 20))
	for i := range b.N {
		d.Add(uint64(i*7919) % 1000003)
	}
}

func TestComparable(t *testing.T) {
	a, b := NewDist(nil), NewDist(nil)
	for i := range 1000 {
		a.Add(uint64(1000 + i))
		b.Add(uint64(1001 + i))
	}
	va, vb, exact := Comparable(a, b)
	if !exact || len(va) != 1000 || len(vb) != 1000 {
		t.Fatalf("small samples: exact=%v %d %d", exact, len(va), len(vb))
	}
	c := NewDist(NewBudget(10))
	for i := range 100 {
		c.Add(uint64(1000 + i))
	}
	va, vc, exact := Comparable(a, c)
	if exact || total(va) != 1000 || total(vc) != 100 || len(va) >= 1000 {
		t.Fatalf("bucketed: exact=%v n=%d,%d buckets %d", exact, total(va), total(vc), len(va))
	}
}
