// Package closest ranks names by their closeness to a mistyped one, for the
// "did you mean" hints of kpcap's errors (trace events, ELF symbols).
package closest

import "sort"

// Distance is the optimal-string-alignment distance (Levenshtein plus adjacent
// transpositions, so "shced" is 1 from "sched"), returning limit+1 once it must exceed limit.
func Distance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	pp := make([]int, len(b)+1) // row i-2
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], pp[j-2]+1)
			}
			best = min(best, cur[j])
		}
		if best > limit {
			return limit + 1
		}
		pp, prev, cur = prev, cur, pp
	}
	return prev[len(b)]
}

// Ranked collects candidate names with a distance (smaller is closer).
type Ranked struct {
	cs []cand
}

type cand struct {
	name string
	d    int
}

// Add adds a candidate.
func (r *Ranked) Add(name string, d int) { r.cs = append(r.cs, cand{name, d}) }

// Best returns up to n names, closest first, ties by name.
func (r *Ranked) Best(n int) []string {
	sort.Slice(r.cs, func(i, j int) bool {
		if r.cs[i].d != r.cs[j].d {
			return r.cs[i].d < r.cs[j].d
		}
		return r.cs[i].name < r.cs[j].name
	})
	var out []string
	for i := 0; i < len(r.cs) && i < n; i++ {
		out = append(out, r.cs[i].name)
	}
	return out
}
