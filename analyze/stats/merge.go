package stats

// Merge adds every value of o to d (o is unchanged). d stays exact while
// both are exact and d's budget has room for o's values; otherwise it
// answers from the merged log-linear histogram, as if the values had been
// added one by one past the budget.
func (d *Dist) Merge(o *Dist) {
	if o.n == 0 {
		return
	}
	d.n += o.n
	d.sum += o.sum
	d.min = min(d.min, o.min)
	d.max = max(d.max, o.max)
	if len(o.hist) > len(d.hist) {
		d.hist = append(d.hist, make([]uint64, len(o.hist)-len(d.hist))...)
	}
	for i, c := range o.hist {
		d.hist[i] += c
	}
	if !d.exact {
		return
	}
	need := int64(len(o.vals))
	if !o.exact || d.budget != nil && d.budget.remaining < need {
		if d.budget != nil {
			d.budget.remaining += int64(len(d.vals))
		}
		d.vals, d.exact = nil, false
		return
	}
	if d.budget != nil {
		d.budget.remaining -= need
	}
	d.vals = append(d.vals, o.vals...)
	d.sorted = false
}

// Release returns d's exact values to its budget and drops them; d then
// answers from its histogram. Call it on a distribution merged elsewhere
// and no longer needed.
func (d *Dist) Release() {
	if d.budget != nil {
		d.budget.remaining += int64(len(d.vals))
	}
	d.vals, d.exact = nil, false
}
