// Package stats holds the numeric building blocks of kpcap's analysis:
// latency distributions with exact or bounded-error percentiles, BCC-style
// log2 histograms, and two-sample significance tests (Mann-Whitney U and
// Kolmogorov-Smirnov).
package stats

import (
	"math/bits"
	"slices"
)

// Budget bounds the number of exact values all distributions sharing it keep.
// Once a distribution cannot get room, it drops its exact values (returning
// them to the budget) and answers from its log-linear histogram alone.
type Budget struct {
	remaining int64
}

// NewBudget returns a budget for n exact values (8 bytes each).
func NewBudget(n int64) *Budget { return &Budget{remaining: n} }

// DefaultBudget is the number of exact values kept across one analysis:
// 16 Mi values, 128 MiB.
const DefaultBudget = 16 << 20

// Log-linear histogram layout: values below linearMax are counted exactly;
// above, every power of two is split into subBuckets buckets, so a bucket's
// width is at most 1/subBuckets of its lower bound: a relative error below
// 0.8% for any percentile answered from the histogram.
const (
	subBits    = 7
	subBuckets = 1 << subBits   // 128
	linearMax  = 2 * subBuckets // 256
)

// bucketOf returns the log-linear bucket index of v.
func bucketOf(v uint64) int {
	if v < linearMax {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // >= 1
	return linearMax + (shift-1)*subBuckets + int(v>>uint(shift)) - subBuckets
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < linearMax {
		return uint64(i), uint64(i)
	}
	i -= linearMax
	shift := uint(i/subBuckets + 1)
	m := uint64(i%subBuckets + subBuckets)
	lo = m << shift
	hi = lo + (1 << shift) - 1
	return lo, hi
}

// Dist records non-negative values (durations in ns) and answers percentiles.
// Percentiles are exact while the distribution holds its values (see Budget),
// otherwise they come from a log-linear histogram with a relative error below
// 1/128 (0.8%), clamped to the exact min and max.
type Dist struct {
	n        uint64
	sum      float64
	min, max uint64
	hist     []uint64 // log-linear buckets, grown on demand
	vals     []uint64 // exact values while exact
	exact    bool
	sorted   bool
	budget   *Budget
}

// NewDist returns an empty distribution drawing exact-value room from b
// (nil: always exact, unbounded).
func NewDist(b *Budget) *Dist { return &Dist{exact: true, budget: b, min: ^uint64(0)} }

// Add records one value.
func (d *Dist) Add(v uint64) {
	d.n++
	d.sum += float64(v)
	if v < d.min {
		d.min = v
	}
	if v > d.max {
		d.max = v
	}
	i := bucketOf(v)
	if i >= len(d.hist) {
		d.hist = append(d.hist, make([]uint64, i+1-len(d.hist))...)
	}
	d.hist[i]++
	if !d.exact {
		return
	}
	if d.budget != nil {
		if d.budget.remaining <= 0 {
			d.budget.remaining += int64(len(d.vals))
			d.vals = nil
			d.exact = false
			return
		}
		d.budget.remaining--
	}
	d.vals = append(d.vals, v)
	d.sorted = false
}

// Count is the number of values recorded.
func (d *Dist) Count() uint64 { return d.n }

// Exact reports whether percentiles are exact.
func (d *Dist) Exact() bool { return d.exact }

// Min and Max are the exact extremes (0 when empty).
func (d *Dist) Min() uint64 {
	if d.n == 0 {
		return 0
	}
	return d.min
}

// Max is the largest value recorded (0 when empty).
func (d *Dist) Max() uint64 { return d.max }

// Mean is the arithmetic mean (0 when empty).
func (d *Dist) Mean() float64 {
	if d.n == 0 {
		return 0
	}
	return d.sum / float64(d.n)
}

func (d *Dist) sort() {
	if !d.sorted {
		slices.Sort(d.vals)
		d.sorted = true
	}
}

// Quantile returns the q-quantile (0 <= q <= 1) by the nearest-rank method:
// the smallest value with at least q*n values at or below it.
func (d *Dist) Quantile(q float64) uint64 {
	if d.n == 0 {
		return 0
	}
	rank := nearestRank(q, d.n)
	if d.exact {
		d.sort()
		return d.vals[rank-1]
	}
	var seen uint64
	for i, c := range d.hist {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			v := lo + (hi-lo)/2
			return min(max(v, d.min), d.max)
		}
	}
	return d.max
}

// nearestRank is ceil(q*n) within [1, n].
func nearestRank(q float64, n uint64) uint64 {
	if q <= 0 {
		return 1
	}
	r := uint64(q * float64(n))
	if float64(r) < q*float64(n) {
		r++
	}
	return min(max(r, 1), n)
}

// ValueCount is one distinct value (or histogram bucket lower bound) and how
// many times it occurred.
type ValueCount struct {
	Value uint64
	Count uint64
}

// Values returns the distribution as sorted distinct values with counts:
// exact values when exact, else the lower bounds of non-empty log-linear
// buckets. Two distributions compared with MannWhitney or KS must either both
// be exact or both be bucketed (see Comparable).
func (d *Dist) Values(bucketed bool) []ValueCount {
	var out []ValueCount
	if d.exact && !bucketed {
		d.sort()
		for _, v := range d.vals {
			if len(out) > 0 && out[len(out)-1].Value == v {
				out[len(out)-1].Count++
				continue
			}
			out = append(out, ValueCount{v, 1})
		}
		return out
	}
	for i, c := range d.hist {
		if c > 0 {
			lo, _ := bucketRange(i)
			out = append(out, ValueCount{lo, c})
		}
	}
	return out
}

// MaxExactCompare is the largest combined sample size Comparable hands over
// as exact values; larger samples compare by log-linear buckets (ties within
// 0.8%), which bounds the memory of a test to the bucket count.
const MaxExactCompare = 2 << 20

// Comparable returns the two distributions' values in a common resolution:
// exact if both are exact and together hold at most MaxExactCompare values,
// otherwise both bucketed.
func Comparable(a, b *Dist) (va, vb []ValueCount, exact bool) {
	exact = a.exact && b.exact && a.n+b.n <= MaxExactCompare
	return a.Values(!exact), b.Values(!exact), exact
}

// Log2Bucket is one power-of-two bucket: values in [Low, High].
type Log2Bucket struct {
	Low, High uint64
	Count     uint64
}

// Log2 returns the BCC-style power-of-two histogram of the values: bucket k
// holds [2^k, 2^(k+1)-1] (bucket 0 holds 0 and 1), from the first to the last
// non-empty bucket.
func (d *Dist) Log2() []Log2Bucket {
	var counts [65]uint64
	add := func(v, c uint64) {
		k := 0
		if v > 1 {
			k = bits.Len64(v) - 1
		}
		counts[k] += c
	}
	// Log-linear buckets never straddle a power of two, so the histogram
	// gives exact log2 counts.
	for i, c := range d.hist {
		if c > 0 {
			lo, _ := bucketRange(i)
			add(lo, c)
		}
	}
	first, last := -1, -1
	for k, c := range counts {
		if c > 0 {
			if first < 0 {
				first = k
			}
			last = k
		}
	}
	if first < 0 {
		return nil
	}
	out := make([]Log2Bucket, 0, last-first+1)
	for k := first; k <= last; k++ {
		lo, hi := uint64(0), uint64(1)
		if k > 0 {
			lo = 1 << uint(k)
			hi = lo<<1 - 1
			if k == 63 {
				hi = ^uint64(0)
			}
		}
		out = append(out, Log2Bucket{Low: lo, High: hi, Count: counts[k]})
	}
	return out
}
