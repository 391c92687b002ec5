package analyze

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/kpcap/kpcap/analyze/flame"
	"github.com/kpcap/kpcap/analyze/internal/symname"
	"github.com/kpcap/kpcap/analyze/stats"
)

// DiffOptions shape a comparison.
type DiffOptions struct {
	Latency LatencyOptions
	// Alpha is the significance level for flagging changes; default 0.01.
	Alpha float64
	// TopStacks limits the stack deltas listed; default 50.
	TopStacks int
}

// TraceAnalysis is everything a comparison needs from one trace, gathered in
// one pass (Analyze).
type TraceAnalysis struct {
	Summary  *Summary
	Latency  *Latency
	Flame    *Flame
	Timeline *EventTimeline // set by AnalyzeTimeline only
}

// Analyze reads in once, gathering the summary, latency pairs and a
// sample-weighted flame profile.
func Analyze(in Input, so SummaryOptions, lo LatencyOptions) (*TraceAnalysis, error) {
	return analyzeAll(in, so, lo, nil)
}

// AnalyzeTimeline is Analyze that also gathers the event timeline, its
// slices being the latency pairs.
func AnalyzeTimeline(in Input, so SummaryOptions, lo LatencyOptions, to TimelineOptions) (*TraceAnalysis, error) {
	return analyzeAll(in, so, lo, &to)
}

func analyzeAll(in Input, so SummaryOptions, lo LatencyOptions, to *TimelineOptions) (*TraceAnalysis, error) {
	sa := newSummaryAcc(so)
	var ta *timelineAcc
	if to != nil {
		ta = newTimelineAcc(*to)
		lo.pairAt, lo.entryRef = ta.pair, ta.entryText
	}
	la := newLatencyAcc(lo)
	fa, err := newFlameAcc(FlameOptions{Weight: "samples"})
	if err != nil {
		return nil, err
	}
	accs := []accumulator{sa, la, fa}
	if ta != nil {
		ta.lat = la
		accs = append(accs, ta) // after la: it takes la's pairing rules
	}
	if err := run(in, accs...); err != nil {
		return nil, err
	}
	res := &TraceAnalysis{Summary: sa.s, Latency: la.res, Flame: fa.res}
	if ta != nil {
		res.Timeline = ta.res
	}
	return res, nil
}

// Diff compares trace A (before, e.g. the old kernel) with B (after).
type Diff struct {
	A            TraceInfo   `json:"a"`
	B            TraceInfo   `json:"b"`
	Warnings     []string    `json:"warnings"`
	LossMismatch bool        `json:"loss_mismatch"`
	Alpha        float64     `json:"alpha"`
	Probes       []ProbeDiff `json:"probes"`
	Stacks       []StackDiff `json:"stacks"`
	// StacksA and StacksB are the stack totals the shares are taken of.
	StacksA uint64 `json:"stacks_total_a"`
	StacksB uint64 `json:"stacks_total_b"`

	flameA, flameB *flame.Profile
}

// TraceInfo identifies one side of a comparison.
type TraceInfo struct {
	File       string `json:"file"`
	Kernel     string `json:"kernel"`
	Hostname   string `json:"hostname"`
	DurationNS uint64 `json:"duration_ns"`
	Events     uint64 `json:"events"`
	Lost       uint64 `json:"lost"`
	// LostPct is lost / (events + lost), in percent.
	LostPct          float64 `json:"lost_pct"`
	UnmatchedEntries uint64  `json:"unmatched_entries"`
	UnmatchedReturns uint64  `json:"unmatched_returns"`
}

// ProbeDiff compares one source ("source": event counts and rates) or one
// paired function ("latency": durations) across the traces.
type ProbeDiff struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	A    Side   `json:"a"`
	B    Side   `json:"b"`
	// CountChangePct and RateChangePct are (B-A)/A in percent; null when A is 0.
	CountChangePct *float64 `json:"count_change_pct"`
	RateChangePct  *float64 `json:"rate_change_pct"`
	P50ChangePct   *float64 `json:"p50_change_pct,omitempty"`
	P99ChangePct   *float64 `json:"p99_change_pct,omitempty"`
	// PValue is the two-sided Mann-Whitney U p-value of the latency
	// distributions; KSPValue the two-sample Kolmogorov-Smirnov one. Null
	// for event sources or when a side has no values.
	PValue      *float64 `json:"p_value"`
	KSPValue    *float64 `json:"ks_p_value,omitempty"`
	KSD         *float64 `json:"ks_d,omitempty"`
	Exact       bool     `json:"exact_test,omitempty"` // tests ran on exact values, not histogram buckets
	Significant bool     `json:"significant"`
	// OnlyIn is "a" or "b" when the probe exists in one trace only.
	OnlyIn string `json:"only_in,omitempty"`
	// Names are the original names when they differed (compiler suffixes).
	NameA string `json:"name_a,omitempty"`
	NameB string `json:"name_b,omitempty"`
}

// Side is one trace's numbers for a probe.
type Side struct {
	Count      uint64  `json:"count"`
	RatePerSec float64 `json:"rate_per_sec"`
	P50        uint64  `json:"p50_ns"`
	P90        uint64  `json:"p90_ns"`
	P99        uint64  `json:"p99_ns"`
	Max        uint64  `json:"max_ns"`
	Lost       uint64  `json:"lost"`
	// Unmatched entries and returns of a paired function.
	UnmatchedEntries uint64 `json:"unmatched_entries,omitempty"`
	UnmatchedReturns uint64 `json:"unmatched_returns,omitempty"`
}

// StackDiff is one stack's change; shares are percent of each trace's total.
type StackDiff struct {
	Stack       string  `json:"stack"`
	A           uint64  `json:"a"`
	B           uint64  `json:"b"`
	ShareA      float64 `json:"share_a_pct"`
	ShareB      float64 `json:"share_b_pct"`
	DeltaPoints float64 `json:"delta_points"`
}

func pct(a, b float64) *float64 {
	if a == 0 {
		return nil
	}
	v := 100 * (b - a) / a
	return &v
}

func ptr(v float64) *float64 { return &v }

func info(file string, t *TraceAnalysis) TraceInfo {
	s := t.Summary
	ti := TraceInfo{File: file, Kernel: s.Host.Kernel, Hostname: s.Host.Hostname, DurationNS: s.DurationNS,
		Events: s.Events, Lost: s.Lost.Total, UnmatchedEntries: t.Latency.UnmatchedEntries, UnmatchedReturns: t.Latency.UnmatchedReturns}
	if n := s.Events + s.Lost.Total; n > 0 {
		ti.LostPct = 100 * float64(s.Lost.Total) / float64(n)
	}
	return ti
}

// Compare diffs two analyses. Sources, functions and stack frames are
// matched by name with compiler suffixes removed (symname.Normalize), never
// by address.
func Compare(fileA string, a *TraceAnalysis, fileB string, b *TraceAnalysis, o DiffOptions) *Diff {
	if o.Alpha <= 0 {
		o.Alpha = 0.01
	}
	if o.TopStacks <= 0 {
		o.TopStacks = 50
	}
	d := &Diff{A: info(fileA, a), B: info(fileB, b), Alpha: o.Alpha, Warnings: []string{}}
	d.warn(a, b)
	d.compareSources(a, b)
	d.compareFunctions(a, b)
	d.compareStacks(a, b, o.TopStacks)
	return d
}

// warn states what biases the comparison: unequal loss, each side's own
// warnings, unequal unmatched entries and returns.
func (d *Diff) warn(a, b *TraceAnalysis) {
	if d.A.Lost != d.B.Lost {
		d.LossMismatch = true
		d.Warnings = append(d.Warnings, fmt.Sprintf(
			"WARNING: the traces lost different amounts: A lost %d samples (%.3f%%), B lost %d (%.3f%%); counts, rates and stacks are biased toward the side that lost less",
			d.A.Lost, d.A.LostPct, d.B.Lost, d.B.LostPct))
	}
	for side, s := range []*Summary{a.Summary, b.Summary} {
		for _, w := range s.Warnings {
			d.Warnings = append(d.Warnings, fmt.Sprintf("%s: %s", "AB"[side:side+1], w))
		}
	}
	if ua, ub := d.A.UnmatchedEntries+d.A.UnmatchedReturns, d.B.UnmatchedEntries+d.B.UnmatchedReturns; ua != ub && (ua > 0 || ub > 0) {
		d.Warnings = append(d.Warnings, fmt.Sprintf("unmatched entry/return events differ: A %d, B %d", ua, ub))
	}
}

// compareSources compares the sources' counts and rates by normalized name.
func (d *Diff) compareSources(a, b *TraceAnalysis) {
	for _, m := range matchBy(a.Summary.Sources, b.Summary.Sources, func(s SourceCount) string { return symname.Normalize(s.Name) }) {
		n := m.key
		p := struct{ a, b *SourceCount }{pick(a.Summary.Sources, m.a), pick(b.Summary.Sources, m.b)}
		pd := ProbeDiff{Name: n, Kind: "source"}
		if p.a != nil {
			pd.A = Side{Count: p.a.Events, RatePerSec: p.a.RatePerSec, Lost: p.a.Lost}
			if p.a.Name != n {
				pd.NameA = p.a.Name
			}
		} else {
			pd.OnlyIn = "b"
		}
		if p.b != nil {
			pd.B = Side{Count: p.b.Events, RatePerSec: p.b.RatePerSec, Lost: p.b.Lost}
			if p.b.Name != n {
				pd.NameB = p.b.Name
			}
		} else {
			pd.OnlyIn = "a"
		}
		pd.CountChangePct = pct(float64(pd.A.Count), float64(pd.B.Count))
		pd.RateChangePct = pct(pd.A.RatePerSec, pd.B.RatePerSec)
		d.Probes = append(d.Probes, pd)
	}
}

// latSide is one side of a paired function's comparison.
func latSide(f *FuncLatency, secs float64, lost uint64) Side {
	s := Side{Count: f.Count, P50: f.P50, P90: f.P90, P99: f.P99, Max: f.Max, Lost: lost}
	if secs > 0 {
		s.RatePerSec = float64(f.Count) / secs
	}
	if f.Unmatched != nil {
		s.UnmatchedEntries, s.UnmatchedReturns = f.Unmatched.Entries, f.Unmatched.Returns
	}
	return s
}

// compareFunctions compares the paired functions by normalized name (and
// group): counts, rates, percentiles and the tests of their distributions.
func (d *Diff) compareFunctions(a, b *TraceAnalysis) {
	fnKey := func(f *FuncLatency) string {
		n := symname.Normalize(f.Name)
		if f.Group != "" {
			n += " [" + f.Group + "]"
		}
		return n
	}
	for _, m := range matchBy(a.Latency.Functions, b.Latency.Functions, fnKey) {
		var p struct{ a, b *FuncLatency }
		if m.a >= 0 {
			p.a = a.Latency.Functions[m.a]
		}
		if m.b >= 0 {
			p.b = b.Latency.Functions[m.b]
		}
		pd := ProbeDiff{Name: m.key, Kind: "latency"}
		if p.a != nil {
			pd.A = latSide(p.a, float64(d.A.DurationNS)/1e9, d.A.Lost)
			if symname.Normalize(p.a.Name) != p.a.Name {
				pd.NameA = p.a.Name
			}
		} else {
			pd.OnlyIn = "b"
		}
		if p.b != nil {
			pd.B = latSide(p.b, float64(d.B.DurationNS)/1e9, d.B.Lost)
			if symname.Normalize(p.b.Name) != p.b.Name {
				pd.NameB = p.b.Name
			}
		} else {
			pd.OnlyIn = "a"
		}
		pd.CountChangePct = pct(float64(pd.A.Count), float64(pd.B.Count))
		pd.RateChangePct = pct(pd.A.RatePerSec, pd.B.RatePerSec)
		if p.a != nil && p.b != nil && p.a.Count > 0 && p.b.Count > 0 {
			pd.P50ChangePct = pct(float64(pd.A.P50), float64(pd.B.P50))
			pd.P99ChangePct = pct(float64(pd.A.P99), float64(pd.B.P99))
			va, vb, exact := stats.Comparable(p.a.Dist, p.b.Dist)
			mw := stats.MannWhitney(va, vb)
			ks := stats.KS(va, vb)
			pd.PValue, pd.KSPValue, pd.KSD, pd.Exact = ptr(mw.P), ptr(ks.P), ptr(ks.Statistic), exact
			pd.Significant = mw.P < d.Alpha
		}
		d.Probes = append(d.Probes, pd)
	}
}

// compareStacks compares the stacks' shares of each side's total, frames
// normalized, and keeps the top of the largest changes.
func (d *Diff) compareStacks(a, b *TraceAnalysis, top int) {
	fa := a.Flame.Profile.Map(symname.Normalize)
	fb := b.Flame.Profile.Map(symname.Normalize)
	d.flameA, d.flameB = fa, fb
	d.StacksA, d.StacksB = fa.Total, fb.Total
	seen := map[string]bool{}
	var all []StackDiff
	addStack := func(k string) {
		if seen[k] {
			return
		}
		seen[k] = true
		sd := StackDiff{Stack: k, A: fa.Weight(k), B: fb.Weight(k)}
		sd.ShareA, sd.ShareB = share(sd.A, fa.Total), share(sd.B, fb.Total)
		sd.DeltaPoints = sd.ShareB - sd.ShareA
		all = append(all, sd)
	}
	for _, s := range fa.Stacks() {
		addStack(s.Folded)
	}
	for _, s := range fb.Stacks() {
		addStack(s.Folded)
	}
	slices.SortFunc(all, func(x, y StackDiff) int {
		return cmp.Or(cmp.Compare(math.Abs(y.DeltaPoints), math.Abs(x.DeltaPoints)), strings.Compare(x.Stack, y.Stack))
	})
	if len(all) > top {
		all = all[:top]
	}
	d.Stacks = all
	if d.Stacks == nil {
		d.Stacks = []StackDiff{}
	}
}

// pairing is one key of matchBy: the index of its item in A and in B, -1 where absent.
type pairing struct {
	key  string
	a, b int
}

// matchBy pairs the items of a and b by key, in order of first appearance
// (A's, then those only in B). A key repeated within one side keeps its last item.
func matchBy[T any](a, b []T, key func(T) string) []pairing {
	idx := map[string]int{}
	var out []pairing
	at := func(k string) *pairing {
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, pairing{key: k, a: -1, b: -1})
		}
		return &out[i]
	}
	for i, v := range a {
		at(key(v)).a = i
	}
	for i, v := range b {
		at(key(v)).b = i
	}
	return out
}

// pick returns &s[i], or nil for i < 0.
func pick[T any](s []T, i int) *T {
	if i < 0 {
		return nil
	}
	return &s[i]
}

func share(v, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(v) / float64(total)
}

// FlameProfiles returns the normalized stack profiles the diff compared
// (for a differential flame graph).
func (d *Diff) FlameProfiles() (a, b *flame.Profile) { return d.flameA, d.flameB }
