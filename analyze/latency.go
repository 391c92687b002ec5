package analyze

import (
	"cmp"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/kpcap/kpcap/analyze/latency"
	"github.com/kpcap/kpcap/analyze/stats"
	"github.com/kpcap/kpcap/format"
)

// LatencyOptions choose what is paired and how results split.
type LatencyOptions struct {
	// Start and End, when set, pair these sources (names or globs) instead
	// of the automatic entry/return pairs; Key is the field that links a
	// start to its end ("" = the thread).
	Start, End []string
	Key        string
	// By splits each function's distribution by "comm", "pid", "cpu",
	// "cgroup" (traces that record cgroups) or an
	// event field of the entry event ("" = no split).
	By string
	// UnitNS is the display unit of the text histogram (1000 = usecs).
	UnitNS uint64
	// Budget bounds exact values kept for percentiles (default
	// stats.DefaultBudget); past it percentiles come from log-linear
	// histograms with relative error < 1/128.
	Budget int64

	// pairs, when set, receives every pair (flame graphs weighted by latency).
	pairs func(p latency.Pair)
	// pairAt, when set, receives every pair with its return's row.
	pairAt func(p latency.Pair, b *batch, i int)
	// entryRef, when set, gives each entry's Payload.Ref.
	entryRef func(b *batch, i int) int32
}

// Latency is the result of pairing a trace.
type Latency struct {
	Functions        []*FuncLatency `json:"latency"`
	UnmatchedEntries uint64         `json:"unmatched_entries"`
	UnmatchedReturns uint64         `json:"unmatched_returns"`
	OpenAtEnd        uint64         `json:"open_at_end"`
	// AcrossGap counts the entries not paired because a gap follows them:
	// the return found lies beyond a missing file of the set or samples
	// lost on their CPU (the return then counts in UnmatchedReturns), or
	// the entry is still open at the end with a missing file after it.
	AcrossGap uint64      `json:"across_gap"`
	Unmatched []Unmatched `json:"unmatched"`
	// Lost is the number of samples lost in the trace; Loss details it.
	Lost       uint64     `json:"lost"`
	Loss       Loss       `json:"loss"`
	Pairs      []PairRule `json:"pairs"`
	By         string     `json:"by,omitempty"`
	DurationNS uint64     `json:"duration_ns"`
	// Traces is the number of traces merged (multi-trace analysis; the
	// durations are then summed); 0 for one trace.
	Traces   int      `json:"traces,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	UnitNS   uint64   `json:"-"`
}

// PairRule says which sources were paired into a function.
type PairRule struct {
	Name  string   `json:"name"`
	Start []string `json:"start"`
	End   []string `json:"end"`
	Key   string   `json:"key"`
}

// Unmatched counts one function's events that could not be paired.
type Unmatched struct {
	Name    string `json:"name"`
	Entries uint64 `json:"entries"`
	Returns uint64 `json:"returns"`
	// OpenAtEnd is the part of Entries still open when the trace ended.
	OpenAtEnd uint64 `json:"open_at_end"`
	// AcrossGap is the part of Entries not paired because of a gap.
	AcrossGap uint64 `json:"across_gap"`
}

// FuncLatency is the distribution of one function (and group).
type FuncLatency struct {
	Name      string       `json:"name"`
	Group     string       `json:"group,omitempty"`
	Count     uint64       `json:"count"`
	P50       uint64       `json:"p50_ns"`
	P90       uint64       `json:"p90_ns"`
	P99       uint64       `json:"p99_ns"`
	P999      uint64       `json:"p999_ns"`
	Max       uint64       `json:"max_ns"`
	Min       uint64       `json:"min_ns"`
	Mean      float64      `json:"mean_ns"`
	Exact     bool         `json:"exact"`
	Histogram []HistBucket `json:"histogram"`
	// Unmatched entries and returns of the function (not split by group:
	// only set without --by), and the samples lost in the trace, any of
	// which may have been one of this function's events.
	UnmatchedEntries *uint64      `json:"unmatched_entries,omitempty"`
	UnmatchedReturns *uint64      `json:"unmatched_returns,omitempty"`
	Lost             uint64       `json:"lost"`
	Unmatched        *Unmatched   `json:"-"`
	Display          []HistBucket `json:"-"` // log2 buckets in UnitNS units
	Dist             *stats.Dist  `json:"-"`
	unitHist         [65]uint64
}

// HistBucket is one power-of-two bucket [Low, High].
type HistBucket struct {
	Low   uint64 `json:"low_ns"`
	High  uint64 `json:"high_ns"`
	Count uint64 `json:"count"`
}

type latGroup struct {
	fn    int
	group string
}

type latencyAcc struct {
	o      LatencyOptions
	rules  *latency.Rules
	p      *latency.Pairer
	budget *stats.Budget
	funcs  map[latGroup]*FuncLatency
	order  []latGroup
	res    *Latency
	first  uint64
	last   uint64
	seen   bool

	warnedGroups bool
	groups       interner
	srcNames     []string
	file         *format.File
	gaps         *pairGaps
	acrossGap    []uint64 // per function
}

func newLatencyAcc(o LatencyOptions) *latencyAcc {
	if o.UnitNS == 0 {
		o.UnitNS = 1000
	}
	if o.Budget <= 0 {
		o.Budget = stats.DefaultBudget
	}
	return &latencyAcc{o: o, funcs: map[latGroup]*FuncLatency{}, groups: interner{}, res: &Latency{By: o.By, UnitNS: o.UnitNS}}
}

// ErrNoCgroups is the error (errors.Is) of grouping by cgroup a trace
// recorded without cgroups.
var ErrNoCgroups = errors.New("the trace does not record cgroups")

func (a *latencyAcc) begin(in Input) error {
	srcs := in.File().Header.Sources
	a.file = in.File()
	if a.o.By == "cgroup" && !a.file.HasCgroups() {
		return fmt.Errorf("grouping by cgroup: %w", ErrNoCgroups)
	}
	a.srcNames = a.srcNames[:0]
	for _, s := range srcs {
		a.srcNames = append(a.srcNames, s.Name)
	}
	rules, err := pairRules(srcs, a.o.Start, a.o.End)
	if err != nil {
		return err
	}
	a.rules = rules
	key := a.o.Key
	if key == "" {
		key = "tid"
	}
	for fn, name := range a.rules.Funcs {
		pr := PairRule{Name: name, Key: key}
		for i, r := range a.rules.Role {
			if a.rules.Func[i] != fn {
				continue
			}
			if r == latency.Entry {
				pr.Start = append(pr.Start, srcs[i].Name)
			} else if r == latency.Exit {
				pr.End = append(pr.End, srcs[i].Name)
			}
		}
		a.res.Pairs = append(a.res.Pairs, pr)
	}
	a.p = latency.NewPairer(len(a.rules.Funcs))
	a.gaps = newPairGaps(a.file)
	a.acrossGap = make([]uint64, len(a.rules.Funcs))
	a.budget = stats.NewBudget(a.o.Budget)
	return nil
}

// fieldColumns finds, per source, the column of an event field: the
// source's own "SOURCE.field" column (replay prefixes clashing fields), else
// the shared "field" column; -1 when the source has neither.
func fieldColumns(rec arrow.Record, srcs []string, field string) ([]int, bool) {
	out := make([]int, len(srcs))
	any := false
	shared := rec.Schema().FieldIndices(field)
	for i, s := range srcs {
		out[i] = -1
		if idx := rec.Schema().FieldIndices(s + "." + field); len(idx) > 0 {
			out[i] = idx[0]
		} else if len(shared) > 0 {
			out[i] = shared[0]
		}
		any = any || out[i] >= 0
	}
	return out, any
}

func (a *latencyAcc) add(b *batch) error {
	keyCols, byCols, err := a.columns(b)
	if err != nil {
		return err
	}
	for i := 0; i < b.n; i++ {
		src := b.srcOf(i)
		if src < 0 || a.rules.Role[src] == latency.None {
			continue
		}
		ts := b.ts.Value(i)
		if !a.seen {
			a.first, a.seen = ts, true
		}
		a.first = min(a.first, ts)
		a.last = max(a.last, ts)
		fn := a.rules.Func[src]
		var k latency.Key
		if keyCols != nil {
			v, ok := "", false
			if c := keyCols[src]; c >= 0 {
				v, ok = valueString(b.rec.Column(c), i)
			}
			if !ok {
				// No key: cannot be paired; count it.
				if a.rules.Role[src] == latency.Entry {
					a.p.UnmatchedEntries[fn]++
				} else {
					a.p.UnmatchedReturns[fn]++
				}
				continue
			}
			// Keys are cloned only when an entry keeps them (below): a
			// request id per event must not accumulate.
			k = latency.Key{S: v}
		} else {
			k = latency.ThreadKey(b.tid.Value(i), b.cpu.Value(i))
		}
		if a.rules.Role[src] == latency.Entry {
			pl := latency.Payload{StackID: b.stackID(i), Ref: -1, CPU: b.cpu.Value(i)}
			if a.o.entryRef != nil {
				pl.Ref = a.o.entryRef(b, i)
			}
			pl.Group = a.groupOf(b, i, ts, byCols, src)
			if keyCols != nil {
				k.S = strings.Clone(k.S)
			}
			a.p.Entry(k, fn, ts, pl)
			continue
		}
		a.exit(b, i, k, fn, ts)
	}
	return nil
}

// columns finds the batch's columns of the key field and of the field
// to group by, per source (nil when not a field).
func (a *latencyAcc) columns(b *batch) (keyCols, byCols []int, err error) {
	if a.o.Key != "" && a.o.Key != "tid" {
		c, ok := fieldColumns(b.rec, a.srcNames, a.o.Key)
		if !ok {
			return nil, nil, fmt.Errorf("key field %q: no source has it", a.o.Key)
		}
		keyCols = c
	}
	switch a.o.By {
	case "", "comm", "pid", "cpu", "tid":
	case "cgroup":
	default:
		c, ok := fieldColumns(b.rec, a.srcNames, a.o.By)
		if !ok {
			return nil, nil, fmt.Errorf("grouping by field %q: no source has it", a.o.By)
		}
		byCols = c
	}
	return keyCols, byCols, nil
}

// groupOf is the group of entry row i of source src ("" without By).
func (a *latencyAcc) groupOf(b *batch, i int, ts uint64, byCols []int, src int) string {
	switch a.o.By {
	case "comm":
		return a.group(b.comm.value(i))
	case "pid":
		return strconv.Itoa(int(b.pid.Value(i)))
	case "tid":
		return strconv.Itoa(int(b.tid.Value(i)))
	case "cpu":
		return strconv.Itoa(int(b.cpu.Value(i)))
	case "cgroup":
		cg, ok := a.file.CgroupOf(uint32(b.tid.Value(i)), ts)
		if !ok {
			cg = "(unknown)"
		}
		return a.group(cg)
	case "":
		return ""
	}
	if c := byCols[src]; c >= 0 {
		if v, ok := valueString(b.rec.Column(c), i); ok {
			return a.group(v)
		}
	}
	return "(none)"
}

// exit pairs return row i with its entry, unless a gap lies between them.
func (a *latencyAcc) exit(b *batch, i int, k latency.Key, fn int, ts uint64) {
	pr, ok := a.p.Exit(k, fn, ts)
	if !ok {
		return
	}
	if a.gaps != nil && a.gaps.spans(pr.Start, ts, pr.CPU, b.cpu.Value(i), fn, a.rules.Func) {
		a.p.UnmatchedEntries[fn]++
		a.p.UnmatchedReturns[fn]++
		a.acrossGap[fn]++
		return
	}
	a.record(pr)
	if a.o.pairAt != nil {
		a.o.pairAt(pr, b, i)
	}
}

// group interns a --by value, up to MaxGroups distinct ones.
func (a *latencyAcc) group(v string) string {
	if g, ok := a.groups[v]; ok {
		return g
	}
	if len(a.groups) >= MaxGroups {
		return OtherGroup
	}
	return a.groups.get(v)
}

// MaxGroups bounds the --by groups per analysis; pairs of further groups
// are counted under OtherGroup.
const (
	MaxGroups  = 10000
	OtherGroup = "(other groups)"
)

func (a *latencyAcc) record(pr latency.Pair) {
	g := latGroup{pr.Func, pr.Group}
	fl := a.funcs[g]
	if fl == nil && len(a.funcs) >= MaxGroups {
		g.group = OtherGroup
		fl = a.funcs[g]
		if fl == nil && !a.warnedGroups {
			a.warnedGroups = true
			a.res.Warnings = append(a.res.Warnings, fmt.Sprintf("more than %d groups: the rest are counted as %q", MaxGroups, OtherGroup))
		}
	}
	if fl == nil {
		fl = &FuncLatency{Name: a.rules.Funcs[pr.Func], Group: g.group, Dist: stats.NewDist(a.budget)}
		a.funcs[g] = fl
		a.order = append(a.order, g)
	}
	fl.Dist.Add(pr.Dur)
	v := pr.Dur / a.o.UnitNS
	k := 0
	if v > 1 {
		k = bits.Len64(v) - 1
	}
	fl.unitHist[k]++
	if a.o.pairs != nil {
		a.o.pairs(pr)
	}
}

func (a *latencyAcc) finish(in Input) error {
	if a.gaps != nil && a.p.OnUnmatched == nil {
		// Entries still open whose return may be in a missing file.
		a.p.OnUnmatched = func(_ latency.Key, fn int, ts uint64, _ latency.Payload) {
			if a.gaps.fileGapAfter(ts) {
				a.acrossGap[fn]++
			}
		}
	}
	a.p.Finish()
	r := a.res
	r.Warnings = append(r.Warnings, inputWarnings(in)...)
	r.Loss = lossOfInput(in)
	r.Lost = r.Loss.Total
	if a.seen {
		r.DurationNS = a.last - a.first
	}
	for fn, name := range a.rules.Funcs {
		u := Unmatched{Name: name, Entries: a.p.UnmatchedEntries[fn], Returns: a.p.UnmatchedReturns[fn], OpenAtEnd: a.p.OpenAtEnd[fn], AcrossGap: a.acrossGap[fn]}
		r.Unmatched = append(r.Unmatched, u)
		r.UnmatchedEntries += u.Entries
		r.UnmatchedReturns += u.Returns
		r.OpenAtEnd += u.OpenAtEnd
		r.AcrossGap += u.AcrossGap
	}
	slices.SortFunc(a.order, func(x, y latGroup) int {
		return cmp.Or(cmp.Compare(x.fn, y.fn), cmp.Compare(a.funcs[y].Dist.Count(), a.funcs[x].Dist.Count()), cmp.Compare(x.group, y.group))
	})
	for _, g := range a.order {
		fl := a.funcs[g]
		fl.fill(a.o.UnitNS)
		if a.o.By == "" {
			fl.setUnmatched(r.Unmatched[g.fn])
		}
		fl.Lost = r.Lost
		r.Functions = append(r.Functions, fl)
	}
	// Functions that never completed a pair still get a row: their
	// unmatched counts must show.
	if a.o.By == "" {
		for fn, name := range a.rules.Funcs {
			if _, ok := a.funcs[latGroup{fn, ""}]; !ok {
				fl := &FuncLatency{Name: name, Dist: stats.NewDist(nil), Histogram: []HistBucket{}, Exact: true, Lost: r.Lost}
				fl.setUnmatched(r.Unmatched[fn])
				r.Functions = append(r.Functions, fl)
			}
		}
	}
	if len(a.rules.Funcs) == 0 {
		r.Warnings = append(r.Warnings, "no entry/return pairs in this trace: record kprobe+kretprobe or uprobe+uretprobe on one function, or syscalls:sys_enter_X with sys_exit_X, or name the start and end events to pair")
	}
	return nil
}

func (fl *FuncLatency) setUnmatched(u Unmatched) {
	fl.Unmatched = &u
	fl.UnmatchedEntries, fl.UnmatchedReturns = &u.Entries, &u.Returns
}

// fill computes percentiles and histograms from the distribution.
func (fl *FuncLatency) fill(unit uint64) {
	d := fl.Dist
	fl.Count = d.Count()
	fl.P50, fl.P90, fl.P99, fl.P999 = d.Quantile(0.5), d.Quantile(0.9), d.Quantile(0.99), d.Quantile(0.999)
	fl.Max, fl.Min, fl.Mean, fl.Exact = d.Max(), d.Min(), d.Mean(), d.Exact()
	fl.Histogram = []HistBucket{}
	for _, b := range d.Log2() {
		fl.Histogram = append(fl.Histogram, HistBucket{b.Low, b.High, b.Count})
	}
	first, last := -1, -1
	for k, c := range fl.unitHist {
		if c > 0 {
			if first < 0 {
				first = k
			}
			last = k
		}
	}
	fl.Display = nil
	for k := max(first, 0); first >= 0 && k <= last; k++ {
		lo, hi := uint64(0), uint64(1)
		if k > 0 {
			lo, hi = 1<<uint(k), 1<<uint(k+1)-1
		}
		fl.Display = append(fl.Display, HistBucket{lo, hi, fl.unitHist[k]})
	}
}

// MeasureLatency reads in once and pairs its events.
func MeasureLatency(in Input, o LatencyOptions) (*Latency, error) {
	a := newLatencyAcc(o)
	if err := run(in, a); err != nil {
		return nil, err
	}
	return a.res, nil
}
