package stats

import "math"

// TestResult is the outcome of a two-sample test.
type TestResult struct {
	Statistic float64 // U of the first sample (Mann-Whitney) or D (KS)
	Z         float64 // normal deviate (Mann-Whitney only)
	P         float64 // two-sided p-value
}

// MannWhitney runs the two-sided Mann-Whitney U test on two samples given as
// sorted distinct values with counts, using the normal approximation with
// tie correction and continuity correction (as scipy's
// mannwhitneyu(method="asymptotic", use_continuity=True)). P is 1 when either
// sample is empty or every value is tied.
func MannWhitney(a, b []ValueCount) TestResult {
	n1, n2 := total(a), total(b)
	if n1 == 0 || n2 == 0 {
		return TestResult{P: 1}
	}
	// Walk both sorted lists; each group of equal values gets the average rank.
	var r1, tieSum float64
	rank := 0.0 // ranks used so far
	eachValue(a, b, func(na, nb uint64) {
		ca, t := float64(na), float64(na+nb)
		avg := rank + (t+1)/2
		r1 += ca * avg
		rank += t
		tieSum += t*t*t - t
	})
	fn1, fn2 := float64(n1), float64(n2)
	n := fn1 + fn2
	u1 := r1 - fn1*(fn1+1)/2
	mu := fn1 * fn2 / 2
	sigma2 := fn1 * fn2 / 12 * ((n + 1) - tieSum/(n*(n-1)))
	if sigma2 <= 0 {
		return TestResult{Statistic: u1, P: 1}
	}
	sigma := math.Sqrt(sigma2)
	num := u1 - mu
	// Continuity correction toward the mean.
	switch {
	case num > 0:
		num = math.Max(0, num-0.5)
	case num < 0:
		num = math.Min(0, num+0.5)
	}
	z := num / sigma
	p := math.Erfc(math.Abs(z) / math.Sqrt2)
	return TestResult{Statistic: u1, Z: z, P: math.Min(1, p)}
}

// KS runs the two-sided two-sample Kolmogorov-Smirnov test. D is the largest
// distance between the empirical CDFs; P is the asymptotic Kolmogorov
// distribution's survival function at (sqrt(ne) + 0.12 + 0.11/sqrt(ne)) * D,
// ne = n1*n2/(n1+n2) (Stephens' correction, as in Numerical Recipes), which
// stays accurate for samples of a few dozen values and more.
func KS(a, b []ValueCount) TestResult {
	n1, n2 := total(a), total(b)
	if n1 == 0 || n2 == 0 {
		return TestResult{P: 1}
	}
	fn1, fn2 := float64(n1), float64(n2)
	var ca, cb uint64
	d := 0.0
	eachValue(a, b, func(na, nb uint64) {
		ca += na
		cb += nb
		d = math.Max(d, math.Abs(float64(ca)/fn1-float64(cb)/fn2))
	})
	ne := fn1 * fn2 / (fn1 + fn2)
	sq := math.Sqrt(ne)
	return TestResult{Statistic: d, P: KolmogorovQ((sq + 0.12 + 0.11/sq) * d)}
}

// eachValue walks two value lists sorted by Value together, calling f once per
// distinct value, in increasing order, with its count in a and in b (0 where absent).
func eachValue(a, b []ValueCount, f func(na, nb uint64)) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var v uint64
		switch {
		case j >= len(b) || (i < len(a) && a[i].Value <= b[j].Value):
			v = a[i].Value
		default:
			v = b[j].Value
		}
		var na, nb uint64
		if i < len(a) && a[i].Value == v {
			na = a[i].Count
			i++
		}
		if j < len(b) && b[j].Value == v {
			nb = b[j].Count
			j++
		}
		f(na, nb)
	}
}

// KolmogorovQ is the survival function of the Kolmogorov distribution:
// Q(x) = 2 * sum_{k>=1} (-1)^(k-1) exp(-2 k^2 x^2).
func KolmogorovQ(x float64) float64 {
	if x < 0.2 {
		return 1 // the series converges slowly here and Q is 1 within 1e-12
	}
	sum, sign := 0.0, 1.0
	for k := 1; k <= 100; k++ {
		term := sign * math.Exp(-2*float64(k*k)*x*x)
		sum += term
		if math.Abs(term) < 1e-12*math.Abs(sum) {
			break
		}
		sign = -sign
	}
	return math.Min(1, math.Max(0, 2*sum))
}

func total(v []ValueCount) uint64 {
	var n uint64
	for _, x := range v {
		n += x.Count
	}
	return n
}
