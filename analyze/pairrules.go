package analyze

import (
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/kpcap/kpcap/analyze/latency"
	"github.com/kpcap/kpcap/format"
)

// matchSources returns the indexes of sources matching any pattern (exact
// name or path.Match glob), or an error naming the pattern that matched none.
func matchSources(srcs []format.Source, pats []string) ([]int, error) {
	var out []int
	for _, p := range pats {
		n := 0
		for i, s := range srcs {
			if ok, _ := path.Match(p, s.Name); ok || s.Name == p {
				if !slices.Contains(out, i) {
					out = append(out, i)
				}
				n++
			}
		}
		if n == 0 {
			names := make([]string, len(srcs))
			for i, s := range srcs {
				names[i] = s.Name
			}
			return nil, fmt.Errorf("no source matches %q (sources: %v)", p, names)
		}
	}
	return out, nil
}

// pairRules are the pairing rules of a trace's sources: the start and end
// sources (names or globs) paired as one function, or without them the
// automatic entry/return pairs. Latency, flame --weight latency and the
// Perfetto export pair alike.
func pairRules(srcs []format.Source, start, end []string) (*latency.Rules, error) {
	if len(start) == 0 && len(end) == 0 {
		return latency.AutoRules(srcs), nil
	}
	if len(start) == 0 || len(end) == 0 {
		return nil, errors.New("explicit pairs need both a start and an end source")
	}
	st, err := matchSources(srcs, start)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	en, err := matchSources(srcs, end)
	if err != nil {
		return nil, fmt.Errorf("end: %w", err)
	}
	return latency.ExplicitRules(len(srcs), st, en, srcs[st[0]].Name+" → "+srcs[en[0]].Name), nil
}
