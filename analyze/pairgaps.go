package analyze

import (
	"cmp"
	"slices"

	"github.com/kpcap/kpcap/format"
)

// pairGaps finds the stretches of a trace where events may be missing:
// time no file covers (files of a set deleted by --keep, or not given)
// and samples lost on a CPU. An entry and a return on either side of one
// are not paired: the return may belong to a later, lost entry, or the
// entry's own return may be lost, and the duration would be a guess.
type pairGaps struct {
	files []format.Gap        // between files, by start
	lost  map[uint32][]lostAt // per CPU, by time
}

// lostAt is a loss record: samples of source src (^0: unknown) lost on
// its CPU before time t, after the CPU's previous record.
type lostAt struct {
	t   uint64
	src uint32
}

// newPairGaps indexes f's gaps and losses; nil when it has none.
func newPairGaps(f *format.File) *pairGaps {
	g := &pairGaps{lost: map[uint32][]lostAt{}}
	for _, gap := range f.Gaps {
		// A gap before the first file read has no pair on its far side.
		if gap.StartNS != 0 {
			g.files = append(g.files, gap)
		}
	}
	slices.SortFunc(g.files, func(a, b format.Gap) int { return cmp.Compare(a.StartNS, b.StartNS) })
	for _, l := range f.Lost {
		// Without a CPU the loss is the capture's account at its end
		// (counters, probe misses): it says nothing of when.
		if l.CPU == ^uint32(0) || l.Count == 0 {
			continue
		}
		g.lost[l.CPU] = append(g.lost[l.CPU], lostAt{l.Time, l.Source})
	}
	for _, ls := range g.lost {
		slices.SortFunc(ls, func(a, b lostAt) int { return cmp.Compare(a.t, b.t) })
	}
	if len(g.files) == 0 && len(g.lost) == 0 {
		return nil
	}
	return g
}

// spans reports whether a pair from start (on CPU c0) to end (on CPU c1)
// spans a gap: a stretch between files, or a loss on c0 or c1 in
// (start, end] of a source that matters: one of function fn's (funcOf
// maps sources to functions) or unknown (^0).
func (g *pairGaps) spans(start, end uint64, c0, c1 uint32, fn int, funcOf []int) bool {
	for _, gap := range g.files {
		if gap.StartNS >= end {
			break
		}
		if gap.EndNS > start {
			return true
		}
	}
	for _, c := range [2]uint32{c0, c1} {
		ls := g.lost[c]
		i, _ := slices.BinarySearchFunc(ls, start+1, func(l lostAt, t uint64) int { return cmp.Compare(l.t, t) })
		for ; i < len(ls) && ls[i].t <= end; i++ {
			if s := ls[i].src; s == ^uint32(0) || int(s) < len(funcOf) && funcOf[s] == fn {
				return true
			}
		}
		if c1 == c0 {
			break
		}
	}
	return false
}

// fileGapAfter reports whether time no file covers follows t: an entry at
// t still open at the end may have returned there.
func (g *pairGaps) fileGapAfter(t uint64) bool {
	return len(g.files) > 0 && g.files[len(g.files)-1].StartNS >= t
}
