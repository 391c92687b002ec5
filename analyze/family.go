package analyze

import (
	"cmp"
	"fmt"
	"slices"
	"text/tabwriter"
)

// familySize is how many sources (or paired functions) make a family: a
// pattern such as -p 'p vfs_*' records one source per matched function, and
// the text reports rank them by events and time instead of listing hundreds
// in definition order.
const familySize = 20

// familyTop is how many members of a family each ranking lists.
const familyTop = 20

// rankSources orders sources by events (then name) and leaves out those
// without events or loss; silent counts those left out.
func rankSources(src []SourceCount) (ranked []SourceCount, silent int) {
	for _, s := range src {
		if s.Events == 0 && s.Lost == 0 {
			silent++
			continue
		}
		ranked = append(ranked, s)
	}
	slices.SortStableFunc(ranked, func(x, y SourceCount) int {
		return cmp.Or(cmp.Compare(y.Events, x.Events), cmp.Compare(x.Name, y.Name))
	})
	return ranked, silent
}

// totalNS is the time a function's calls took altogether.
func totalNS(f *FuncLatency) float64 { return f.Mean * float64(f.Count) }

// writeLatencyRanking prints a family's functions ranked by total time and
// by calls, at most familyTop each.
func writeLatencyRanking(ew *errWriter, fs []*FuncLatency, by string) {
	p := ew.printf
	name := func(f *FuncLatency) string {
		if f.Group != "" {
			return f.Name + " [" + by + "=" + f.Group + "]"
		}
		return f.Name
	}
	table := func(title string, order func(x, y *FuncLatency) int) {
		r := slices.Clone(fs)
		slices.SortStableFunc(r, order)
		p("\n%s (%d of %d):\n", title, min(familyTop, len(r)), len(r))
		tw := tabwriter.NewWriter(ew, 2, 8, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "CALLS\tTOTAL\tMEAN\tP99\tMAX\t  FUNCTION\n")
		for _, f := range r[:min(familyTop, len(r))] {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t  %s\n", f.Count, FormatNS(uint64(totalNS(f))), FormatNS(uint64(f.Mean)), FormatNS(f.P99), FormatNS(f.Max), name(f))
		}
		tw.Flush()
	}
	table("Functions ranked by total time", func(x, y *FuncLatency) int {
		return cmp.Or(cmp.Compare(totalNS(y), totalNS(x)), cmp.Compare(x.Name, y.Name))
	})
	table("Functions ranked by calls", func(x, y *FuncLatency) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Name, y.Name))
	})
	p("\nEach function, by calls:\n")
}
