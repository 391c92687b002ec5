package analyze

import (
	"cmp"
	"slices"

	"github.com/kpcap/kpcap/analyze/stats"
	"github.com/kpcap/kpcap/format"
)

// TraceMeta identifies one trace of a multi-trace analysis.
type TraceMeta struct {
	File   string `json:"file"`
	Host   string `json:"host"`
	Kernel string `json:"kernel"`
	Arch   string `json:"arch"`
}

// MetaOf is the metadata of the trace file f opened from path.
func MetaOf(path string, f *format.File) TraceMeta {
	h := f.Header.Host
	return TraceMeta{File: path, Host: h.Hostname, Kernel: h.Kernel, Arch: h.Machine}
}

// metaKeys are the --by values that group traces by their metadata.
var metaKeys = []string{"kernel", "host", "arch", "trace"}

// IsMetaKey reports whether --by by groups by trace metadata.
func IsMetaKey(by string) bool { return slices.Contains(metaKeys, by) }

// Value is the trace's value of a metadata key; "trace" is the file.
func (m TraceMeta) Value(by string) string {
	v := ""
	switch by {
	case "kernel":
		v = m.Kernel
	case "host":
		v = m.Host
	case "arch":
		v = m.Arch
	case "trace":
		v = m.File
	}
	if v == "" {
		v = "(none)"
	}
	return v
}

// HostKey names the host a trace counts for in a group comparison: its
// host name, or its file when the host is unnamed (a trace per "host").
func (m TraceMeta) HostKey() string {
	if m.Host == "" || m.Host == "(none)" {
		return m.File
	}
	return m.Host
}

// LatencyMerger combines the latency results of many traces into one, split
// by trace metadata (By = kernel, host, arch or trace) or by the per-trace
// groups (comm, pid, a field, or none). Memory is that of the merged
// distributions: exact values up to one budget, histograms beyond.
type LatencyMerger struct {
	by     string
	res    *Latency
	budget *stats.Budget
	funcs  map[latKey]*FuncLatency
	order  []latKey
	names  []string // functions in order of appearance
	unm    map[string]*Unmatched
	pairs  map[string]bool
	lost   map[string]uint64 // per metadata group
	bySrc  map[string]uint64
	traces int
}

type latKey struct{ name, group string }

// NewLatencyMerger returns a merger for results measured with o (o.By is
// the split: a metadata key, or what each trace was measured with).
func NewLatencyMerger(o LatencyOptions) *LatencyMerger {
	if o.UnitNS == 0 {
		o.UnitNS = 1000
	}
	b := o.Budget
	if b <= 0 {
		b = stats.DefaultBudget
	}
	return &LatencyMerger{by: o.By, res: &Latency{By: o.By, UnitNS: o.UnitNS}, budget: stats.NewBudget(b),
		funcs: map[latKey]*FuncLatency{}, unm: map[string]*Unmatched{}, pairs: map[string]bool{},
		lost: map[string]uint64{}, bySrc: map[string]uint64{}}
}

// PerTraceOptions are the options each trace is measured with for o: a
// metadata split is the merger's, not the trace's.
func PerTraceOptions(o LatencyOptions) LatencyOptions {
	if IsMetaKey(o.By) {
		o.By = ""
	}
	return o
}

// Add merges one trace's result, measured with PerTraceOptions. It takes
// over l's distributions.
func (m *LatencyMerger) Add(meta TraceMeta, l *Latency) {
	m.traces++
	meta1 := IsMetaKey(m.by)
	group := ""
	if meta1 {
		group = meta.Value(m.by)
	}
	r := m.res
	r.DurationNS += l.DurationNS
	r.Lost += l.Lost
	r.Loss.Total += l.Loss.Total
	r.Loss.CaptureTotal += l.Loss.CaptureTotal
	r.Loss.RingLost += l.Loss.RingLost
	r.Loss.SourceDropped += l.Loss.SourceDropped
	r.Loss.NoCPU += l.Loss.NoCPU
	for _, s := range l.Loss.BySource {
		m.bySrc[s.Source] += s.Count
	}
	m.lost[group] += l.Lost
	for _, w := range l.Warnings {
		r.Warnings = append(r.Warnings, meta.File+": "+w)
	}
	for _, p := range l.Pairs {
		if !m.pairs[p.Name] {
			m.pairs[p.Name] = true
			r.Pairs = append(r.Pairs, p)
		}
	}
	for _, u := range l.Unmatched {
		t := m.unm[u.Name]
		if t == nil {
			t = &Unmatched{Name: u.Name}
			m.unm[u.Name] = t
			m.names = append(m.names, u.Name)
		}
		t.Entries += u.Entries
		t.Returns += u.Returns
		t.OpenAtEnd += u.OpenAtEnd
		t.AcrossGap += u.AcrossGap
	}
	for _, fl := range l.Functions {
		g := fl.Group
		if meta1 {
			g = group
		}
		k := latKey{fl.Name, g}
		out := m.funcs[k]
		if out == nil {
			out = &FuncLatency{Name: fl.Name, Group: g, Dist: stats.NewDist(m.budget)}
			if meta1 || m.by == "" {
				out.Unmatched = &Unmatched{Name: fl.Name}
			}
			m.funcs[k] = out
			m.order = append(m.order, k)
			if !slices.Contains(m.names, fl.Name) {
				m.names = append(m.names, fl.Name)
			}
		}
		out.Dist.Merge(fl.Dist)
		fl.Dist.Release()
		for i, c := range fl.unitHist {
			out.unitHist[i] += c
		}
		if out.Unmatched != nil && fl.Unmatched != nil {
			out.Unmatched.Entries += fl.Unmatched.Entries
			out.Unmatched.Returns += fl.Unmatched.Returns
			out.Unmatched.OpenAtEnd += fl.Unmatched.OpenAtEnd
			out.Unmatched.AcrossGap += fl.Unmatched.AcrossGap
		}
	}
}

// Result returns the merged latency.
func (m *LatencyMerger) Result() *Latency {
	r := m.res
	r.Traces = m.traces
	r.Functions = nil
	r.Unmatched = nil
	r.UnmatchedEntries, r.UnmatchedReturns, r.OpenAtEnd, r.AcrossGap = 0, 0, 0, 0
	fnIdx := map[string]int{}
	for i, n := range m.names {
		fnIdx[n] = i
		if u := m.unm[n]; u != nil {
			r.Unmatched = append(r.Unmatched, *u)
			r.UnmatchedEntries += u.Entries
			r.UnmatchedReturns += u.Returns
			r.OpenAtEnd += u.OpenAtEnd
			r.AcrossGap += u.AcrossGap
		}
	}
	for s, c := range m.bySrc {
		r.Loss.BySource = append(r.Loss.BySource, SourceLoss{s, c})
	}
	slices.SortFunc(r.Loss.BySource, func(a, b SourceLoss) int { return cmp.Compare(a.Source, b.Source) })
	slices.SortFunc(m.order, func(x, y latKey) int {
		return cmp.Or(cmp.Compare(fnIdx[x.name], fnIdx[y.name]), cmp.Compare(m.funcs[y].Dist.Count(), m.funcs[x].Dist.Count()), cmp.Compare(x.group, y.group))
	})
	for _, k := range m.order {
		fl := m.funcs[k]
		fl.fill(r.UnitNS)
		if fl.Unmatched != nil {
			fl.setUnmatched(*fl.Unmatched)
		}
		fl.Lost = r.Lost
		if IsMetaKey(m.by) {
			fl.Lost = m.lost[k.group]
		}
		r.Functions = append(r.Functions, fl)
	}
	if len(m.names) == 0 && m.traces > 0 {
		r.Warnings = append(r.Warnings, "no entry/return pairs in these traces")
	}
	return r
}
