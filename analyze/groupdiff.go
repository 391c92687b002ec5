package analyze

import (
	"cmp"
	"math"
	"slices"

	"github.com/kpcap/kpcap/analyze/stats"
)

// GroupDiff compares two groups of traces (e.g. hosts before and after a
// kernel upgrade) function by function. Hosts, not events, are the
// samples: each host's traces give it one median latency and one call rate
// per function, and the groups are compared by a Mann-Whitney U test over
// those per-host values, so that one noisy host cannot make a change look
// significant by its number of events.
type GroupDiff struct {
	A         GroupInfo       `json:"a"`
	B         GroupInfo       `json:"b"`
	Alpha     float64         `json:"alpha"`
	Test      string          `json:"test"`
	Functions []FuncGroupDiff `json:"functions"`
	// Sources compare events per second of each source, and Stacks the
	// shares of the call stacks that changed most, both over per-host
	// values with the same test (set when the groups were collected with
	// AddAnalysis).
	Sources  []SourceGroupDiff `json:"sources,omitempty"`
	Stacks   []StackGroupDiff  `json:"stacks,omitempty"`
	Warnings []string          `json:"warnings,omitempty"`
}

// GroupInfo describes one side of a group comparison.
type GroupInfo struct {
	Traces  int      `json:"traces"`
	Hosts   int      `json:"hosts"`
	Kernels []string `json:"kernels"`
	Lost    uint64   `json:"lost"`
	// StacksPerTrace is how many of each trace's heaviest stacks the
	// comparison of stack shares kept (256, maxStacksPerTrace; 0 without
	// stacks); StacksFolded counts the lighter stacks of all traces, and
	// StackWeightFoldedPct their part of the group's stack weight: they
	// count in their hosts' totals but not as stacks of their own.
	StacksPerTrace       int     `json:"stacks_per_trace,omitempty"`
	StacksFolded         uint64  `json:"stacks_folded"`
	StackWeightFoldedPct float64 `json:"stack_weight_folded_pct"`
}

// FuncGroupDiff is one function's change between the groups.
type FuncGroupDiff struct {
	Name string    `json:"name"`
	A    GroupSide `json:"a"`
	B    GroupSide `json:"b"`
	// MedianChangePct is the change of the median of per-host medians, in
	// percent of A's; null when A has none.
	MedianChangePct *float64 `json:"median_change_pct"`
	// PValue is the two-sided Mann-Whitney U p-value of the per-host
	// medians (exact up to 20 hosts a side without ties).
	PValue      float64 `json:"p_value"`
	Significant bool    `json:"significant"`
	// RateChangePct and RatePValue are the same for per-host calls per second.
	RateChangePct   *float64 `json:"rate_change_pct"`
	RatePValue      float64  `json:"rate_p_value"`
	RateSignificant bool     `json:"rate_significant"`
	// Drivers are the B hosts whose median differs most from A's median
	// of medians (at most 5), and OutsideA counts the B hosts whose median
	// lies outside the range of A's host medians: a change most hosts
	// share, or one a few hosts drive.
	Drivers  []HostShift `json:"drivers"`
	OutsideA int         `json:"hosts_outside_a"`
	OnlyIn   string      `json:"only_in,omitempty"`
}

// GroupSide is one group's numbers for a function.
type GroupSide struct {
	Hosts int    `json:"hosts"`
	Count uint64 `json:"count"`
	// P50 and P99 pool every call of the group.
	P50 uint64 `json:"p50_ns"`
	P99 uint64 `json:"p99_ns"`
	// HostMedian is the median of the per-host medians; HostP25/HostP75
	// and HostMin/HostMax their spread from host to host.
	HostMedian uint64 `json:"host_median_ns"`
	HostP25    uint64 `json:"host_p25_ns"`
	HostP75    uint64 `json:"host_p75_ns"`
	HostMin    uint64 `json:"host_min_ns"`
	HostMax    uint64 `json:"host_max_ns"`
	// RatePerSec is the median over hosts of calls per second of trace.
	RatePerSec float64 `json:"rate_per_sec"`
}

// HostShift is one host's median against the other group's.
type HostShift struct {
	Host      string  `json:"host"`
	Median    uint64  `json:"median_ns"`
	ChangePct float64 `json:"change_pct"`
}

// GroupCollector gathers per-host distributions of one group of traces.
type GroupCollector struct {
	budget  *stats.Budget
	pooled  map[string]*stats.Dist
	hosts   map[string]map[string]*hostFunc // function -> host -> values
	hostDur map[string]uint64               // host -> traced ns
	names   []string
	info    GroupInfo
	kernels map[string]bool
	warn    []string
	// sources and stacks are set by AddAnalysis.
	sources, stacks *hostCounts
}

type hostFunc struct {
	d     *stats.Dist
	count uint64
}

// NewGroupCollector returns an empty group; its exact values share budget
// (0 = stats.DefaultBudget).
func NewGroupCollector(budget int64) *GroupCollector {
	if budget <= 0 {
		budget = stats.DefaultBudget
	}
	return &GroupCollector{budget: stats.NewBudget(budget), pooled: map[string]*stats.Dist{},
		hosts: map[string]map[string]*hostFunc{}, hostDur: map[string]uint64{}, kernels: map[string]bool{}}
}

// Add adds one trace's latency (measured without --by) to the group.
func (g *GroupCollector) Add(meta TraceMeta, l *Latency) {
	g.info.Traces++
	g.info.Lost += l.Lost
	g.kernels[meta.Kernel] = true
	host := meta.HostKey()
	g.hostDur[host] += l.DurationNS
	for _, w := range l.Warnings {
		g.warn = append(g.warn, meta.File+": "+w)
	}
	for _, fl := range l.Functions {
		if fl.Group != "" {
			continue
		}
		p := g.pooled[fl.Name]
		if p == nil {
			p = stats.NewDist(g.budget)
			g.pooled[fl.Name] = p
			g.hosts[fl.Name] = map[string]*hostFunc{}
			g.names = append(g.names, fl.Name)
		}
		p.Merge(fl.Dist)
		hf := g.hosts[fl.Name][host]
		if hf == nil {
			hf = &hostFunc{d: stats.NewDist(g.budget)}
			g.hosts[fl.Name][host] = hf
		}
		hf.d.Merge(fl.Dist)
		hf.count += fl.Dist.Count()
		fl.Dist.Release()
	}
}

func (g *GroupCollector) finishInfo() GroupInfo {
	info := g.info
	info.Hosts = len(g.hostDur)
	info.Kernels = []string{}
	for k := range g.kernels {
		info.Kernels = append(info.Kernels, k)
	}
	slices.Sort(info.Kernels)
	if g.stacks != nil {
		var t uint64
		for _, v := range g.stacks.total {
			t += v
		}
		info.StackWeightFoldedPct = share(g.stacks.folded, t)
	}
	return info
}

// hostMedians are the function's per-host medians and call rates, by host name.
func (g *GroupCollector) hostMedians(name string) (hosts []string, med []uint64, rate []float64) {
	for h := range g.hosts[name] {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	for _, h := range hosts {
		hf := g.hosts[name][h]
		med = append(med, hf.d.Quantile(0.5))
		r := 0.0
		if d := g.hostDur[h]; d > 0 {
			r = float64(hf.count) / (float64(d) / 1e9)
		}
		rate = append(rate, r)
	}
	return hosts, med, rate
}

// nearest is the nearest-rank q-quantile of sorted values (0 when empty).
func nearest[T cmp.Ordered](sorted []T, q float64) T {
	var z T
	if len(sorted) == 0 {
		return z
	}
	r := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(max(r, 1), len(sorted))-1]
}

func (g *GroupCollector) side(name string) (GroupSide, []string, []uint64, []float64) {
	hosts, med, rate := g.hostMedians(name)
	s := GroupSide{Hosts: len(hosts)}
	if p := g.pooled[name]; p != nil {
		s.Count, s.P50, s.P99 = p.Count(), p.Quantile(0.5), p.Quantile(0.99)
	}
	sm := slices.Clone(med)
	slices.Sort(sm)
	sr := slices.Clone(rate)
	slices.Sort(sr)
	if len(sm) > 0 {
		s.HostMedian, s.HostP25, s.HostP75 = nearest(sm, 0.5), nearest(sm, 0.25), nearest(sm, 0.75)
		s.HostMin, s.HostMax = sm[0], sm[len(sm)-1]
		s.RatePerSec = nearest(sr, 0.5)
	}
	return s, hosts, med, rate
}

// CompareGroups compares group A (before) with B (after): latency per
// function, and when collected with AddAnalysis events per source and the
// topStacks stacks whose share changed most.
func CompareGroups(a, b *GroupCollector, alpha float64, topStacks int) *GroupDiff {
	if alpha <= 0 {
		alpha = 0.01
	}
	d := &GroupDiff{A: a.finishInfo(), B: b.finishInfo(), Alpha: alpha,
		Test: "two-sided Mann-Whitney U over per-host medians (exact up to 20 hosts a side without ties)"}
	d.Warnings = append(append(d.Warnings, a.warn...), b.warn...)
	names := slices.Clone(a.names)
	for _, n := range b.names {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		fd := FuncGroupDiff{Name: n, PValue: 1, RatePValue: 1, Drivers: []HostShift{}}
		var am, bm []uint64
		var ar, br []float64
		var bh []string
		fd.A, _, am, ar = a.side(n)
		fd.B, bh, bm, br = b.side(n)
		switch {
		case len(am) == 0:
			fd.OnlyIn = "b"
		case len(bm) == 0:
			fd.OnlyIn = "a"
		default:
			fd.MedianChangePct = pct(float64(fd.A.HostMedian), float64(fd.B.HostMedian))
			fd.PValue = stats.MannWhitneyGroups(am, bm).P
			fd.Significant = fd.PValue <= alpha
			fd.RateChangePct = pct(fd.A.RatePerSec, fd.B.RatePerSec)
			fd.RatePValue = stats.MannWhitneyGroups(rates(ar), rates(br)).P
			fd.RateSignificant = fd.RatePValue <= alpha
			fd.Drivers, fd.OutsideA = hostShifts(bh, bm, fd.A.HostMin, fd.A.HostMax, fd.A.HostMedian, func(v uint64) uint64 { return v })
		}
		d.Functions = append(d.Functions, fd)
	}
	if a.sources != nil || b.sources != nil {
		compareSources(d, a, b, alpha)
		compareStacks(d, a, b, alpha, topStacks)
	}
	return d
}

// rates turns calls per second into integers (milli-calls per second) for
// the rank test, which only needs their order.
func rates(r []float64) []uint64 {
	out := make([]uint64, len(r))
	for i, v := range r {
		out[i] = uint64(math.Round(v * 1000))
	}
	return out
}
