package analyze

import (
	"cmp"
	"slices"
	"strings"
)

// topNames sorts by count (descending, then name) and keeps n.
func topNames(v []NameCount, n int) []NameCount {
	slices.SortFunc(v, func(x, y NameCount) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), strings.Compare(x.Name, y.Name))
	})
	if len(v) > n {
		v = v[:n]
	}
	return v
}

// topKCapacity is how many values of a string field the summary keeps.
const topKCapacity = 1024

// topK counts values approximately in bounded memory: when it holds more
// than capacity values it drops the less frequent half, remembering the
// largest count dropped (the error bound of later counts).
type topK struct {
	capacity int
	counts   map[string]uint64
	maxErr   uint64
}

func newTopK(capacity int) *topK { return &topK{capacity: capacity, counts: map[string]uint64{}} }

// add counts one v.
func (t *topK) add(v string) {
	if c, ok := t.counts[v]; ok {
		t.counts[v] = c + 1
		return
	}
	if len(t.counts) >= 2*t.capacity {
		cs := make([]uint64, 0, len(t.counts))
		for _, c := range t.counts {
			cs = append(cs, c)
		}
		slices.Sort(cs)
		cut := cs[len(cs)-t.capacity] // keep values counted more than the median-ish cut
		for k, c := range t.counts {
			if c < cut || (c == cut && len(t.counts) > t.capacity) {
				t.maxErr = max(t.maxErr, c)
				delete(t.counts, k)
			}
		}
	}
	t.counts[string([]byte(v))] = 1
}
