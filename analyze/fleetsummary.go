package analyze

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// FleetSummary is the summary of many traces: one row per trace, totals
// per group of traces (By: kernel, host, arch or trace; one group "all"
// without By), and the merged summary of them all.
type FleetSummary struct {
	By     string             `json:"by,omitempty"`
	Traces []TraceSummaryRow  `json:"traces"`
	Groups []FleetSummaryPart `json:"groups"`
	// Total merges every trace: sources, CPUs, commands, string field
	// values and loss. Durations add up (trace-seconds, so rates are per
	// trace-second); PIDs and the rate over time are left out, as they
	// mean nothing across hosts.
	Total    *Summary `json:"total"`
	Warnings []string `json:"warnings,omitempty"`
}

// TraceSummaryRow is one trace of a fleet summary.
type TraceSummaryRow struct {
	TraceMeta
	DurationNS uint64 `json:"duration_ns"`
	Events     uint64 `json:"events"`
	Lost       uint64 `json:"lost"`
	StacksWith uint64 `json:"events_with_stack"`
}

// FleetSummaryPart is the total of one group of traces.
type FleetSummaryPart struct {
	Key        string        `json:"key"`
	Traces     int           `json:"traces"`
	Hosts      int           `json:"hosts"`
	Kernels    []string      `json:"kernels"`
	DurationNS uint64        `json:"duration_ns"`
	Events     uint64        `json:"events"`
	Lost       uint64        `json:"lost"`
	Sources    []SourceCount `json:"sources"`
	Comms      []NameCount   `json:"comms"`

	hosts, kernels map[string]bool
	src            *sourceMerge
	comms          map[string]uint64
}

// SummaryMerger merges per-trace summaries into a FleetSummary. Each trace
// should be summarized with FleetSummaryOptions, so that the merged top
// lists come from more than each trace's top N.
type SummaryMerger struct {
	by     string
	topN   int
	res    *FleetSummary
	groups map[string]*FleetSummaryPart
	total  *Summary
	src    *sourceMerge
	cpus   map[uint32]*CPUCount
	comms  map[string]uint64
	fields map[string]*fieldMerge
	kern   map[string]bool
	arch   map[string]bool
	hosts  map[string]bool
	approx bool
}

type fieldMerge struct {
	vals   map[string]uint64
	approx bool
	maxErr uint64
}

// sourceMerge adds up source counts by name, in order of appearance.
type sourceMerge struct {
	idx map[string]int
	out []SourceCount
}

func (m *sourceMerge) add(s SourceCount) {
	if m.idx == nil {
		m.idx = map[string]int{}
	}
	i, ok := m.idx[s.Name]
	if !ok {
		i = len(m.out)
		m.idx[s.Name] = i
		m.out = append(m.out, SourceCount{Name: s.Name, Kind: s.Kind, Target: s.Target})
	}
	o := &m.out[i]
	o.Events += s.Events
	o.Lost += s.Lost
	if s.Period != 0 {
		o.Period += s.Period
	} else {
		o.Period += s.Events
	}
}

// result is the merged counts with rates per second of dur ns.
func (m *sourceMerge) result(dur uint64) []SourceCount {
	out := slices.Clone(m.out)
	for i := range out {
		if dur > 0 {
			out[i].RatePerSec = float64(out[i].Events) / (float64(dur) / 1e9)
		}
		if out[i].Period == out[i].Events {
			out[i].Period = 0 // as in a trace's summary: set when it differs
		}
	}
	if out == nil {
		out = []SourceCount{}
	}
	return out
}

// fleetTopFactor is how many more rows than shown each trace keeps in its
// top lists, so that merged top lists rarely miss a value.
const fleetTopFactor = 8

// FleetSummaryOptions are the options each trace of a fleet summary of
// top N rows is summarized with.
func FleetSummaryOptions(topN int) SummaryOptions {
	if topN <= 0 {
		topN = 10
	}
	return SummaryOptions{TopN: topN * fleetTopFactor, MaxBuckets: 1}
}

// NewSummaryMerger returns a merger splitting by (a metadata key or "")
// and keeping topN rows in its top lists.
func NewSummaryMerger(by string, topN int) *SummaryMerger {
	if topN <= 0 {
		topN = 10
	}
	return &SummaryMerger{by: by, topN: topN, res: &FleetSummary{By: by}, groups: map[string]*FleetSummaryPart{},
		total: &Summary{}, src: &sourceMerge{}, cpus: map[uint32]*CPUCount{}, comms: map[string]uint64{},
		fields: map[string]*fieldMerge{}, kern: map[string]bool{}, arch: map[string]bool{}, hosts: map[string]bool{}}
}

// Add merges one trace's summary.
func (m *SummaryMerger) Add(meta TraceMeta, s *Summary) {
	r := m.res
	r.Traces = append(r.Traces, TraceSummaryRow{TraceMeta: meta, DurationNS: s.DurationNS, Events: s.Events, Lost: s.Lost.Total, StacksWith: s.StacksWith})
	for _, w := range s.Warnings {
		r.Warnings = append(r.Warnings, meta.File+": "+w)
	}
	key := "all"
	if IsMetaKey(m.by) {
		key = meta.Value(m.by)
	}
	g := m.groups[key]
	if g == nil {
		g = &FleetSummaryPart{Key: key, hosts: map[string]bool{}, kernels: map[string]bool{}, src: &sourceMerge{}, comms: map[string]uint64{}}
		m.groups[key] = g
		r.Groups = append(r.Groups, *g) // placeholder: order of appearance
	}
	g.Traces++
	g.hosts[meta.HostKey()] = true
	g.kernels[meta.Kernel] = true
	g.DurationNS += s.DurationNS
	g.Events += s.Events
	g.Lost += s.Lost.Total
	for _, sc := range s.Sources {
		g.src.add(sc)
		m.src.add(sc)
	}
	for _, c := range s.Comms {
		g.comms[c.Name] += c.Count
		m.comms[c.Name] += c.Count
	}
	m.approx = m.approx || len(s.Comms) >= m.topN*fleetTopFactor

	t := m.total
	t.DurationNS += s.DurationNS
	t.Events += s.Events
	t.StacksWith += s.StacksWith
	addLoss(&t.Lost, s.Lost)
	for _, c := range s.CPUs {
		o := m.cpus[c.CPU]
		if o == nil {
			o = &CPUCount{CPU: c.CPU}
			m.cpus[c.CPU] = o
		}
		o.Events += c.Events
		o.Lost += c.Lost
	}
	for _, f := range s.Fields {
		fm := m.fields[f.Field]
		if fm == nil {
			fm = &fieldMerge{vals: map[string]uint64{}}
			m.fields[f.Field] = fm
		}
		for _, v := range f.Values {
			fm.vals[v.Name] += v.Count
		}
		fm.approx = fm.approx || f.Approximate || len(f.Values) >= m.topN*fleetTopFactor
		fm.maxErr += f.MaxError
	}
	m.kern[meta.Kernel] = true
	m.arch[meta.Arch] = true
	m.hosts[meta.HostKey()] = true
	if t.Application == "" {
		t.Application = s.Application
	}
}

// Result returns the merged summary.
func (m *SummaryMerger) Result() *FleetSummary {
	r := m.res
	for i := range r.Groups {
		g := m.groups[r.Groups[i].Key]
		g.Hosts = len(g.hosts)
		g.Kernels = sortedKeys(g.kernels)
		g.Sources = g.src.result(g.DurationNS)
		g.Comms = topNames(mapCounts(g.comms), m.topN)
		r.Groups[i] = *g
	}
	if IsMetaKey(m.by) {
		slices.SortFunc(r.Groups, func(a, b FleetSummaryPart) int { return cmp.Compare(a.Key, b.Key) })
	}
	t := m.total
	t.File = fmt.Sprintf("%d traces", len(r.Traces))
	t.Host.Hostname = fmt.Sprintf("%d hosts", len(m.hosts))
	t.Host.Kernel = strings.Join(sortedKeys(m.kern), ", ")
	t.Host.Machine = strings.Join(sortedKeys(m.arch), ", ")
	t.LostTotal = t.Lost.Total
	t.Sources = m.src.result(t.DurationNS)
	t.CPUs = nil
	for _, c := range m.cpus {
		t.CPUs = append(t.CPUs, *c)
	}
	slices.SortFunc(t.CPUs, func(a, b CPUCount) int { return cmp.Compare(a.CPU, b.CPU) })
	t.Comms = topNames(mapCounts(m.comms), m.topN)
	t.Fields = nil
	for _, n := range sortedKeys(m.fields) {
		fm := m.fields[n]
		t.Fields = append(t.Fields, FieldTop{Field: n, Values: topNames(mapCounts(fm.vals), m.topN), Approximate: fm.approx, MaxError: fm.maxErr})
	}
	if m.approx {
		t.Notes = append(t.Notes, fmt.Sprintf("command counts add up each trace's top %d commands: a command outside every trace's top list is missing", m.topN*fleetTopFactor))
	}
	r.Total = t
	if r.Traces == nil {
		r.Traces = []TraceSummaryRow{}
	}
	return r
}

func mapCounts(m map[string]uint64) []NameCount {
	out := make([]NameCount, 0, len(m))
	for k, v := range m {
		out = append(out, NameCount{k, v})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
