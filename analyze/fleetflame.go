package analyze

import (
	"cmp"
	"slices"

	"github.com/kpcap/kpcap/analyze/flame"
)

// FlameMerger adds up the stack profiles of many traces, optionally under
// one root frame per group of traces ("kernel=6.12.117+deb12-amd64"), so
// that one flame graph compares kernels, hosts or architectures side by
// side. Memory is that of the distinct stacks.
type FlameMerger struct {
	by  string
	res *Flame
	lat *LatencyMerger
}

// NewFlameMerger returns a merger of profiles built with o, grouped by a
// metadata key (kernel, host, arch, trace) or not at all (by "").
func NewFlameMerger(by string, o FlameOptions) *FlameMerger {
	unit := map[string]string{"": "samples", "samples": "samples", "period": "period", "latency": "nanoseconds"}[o.Weight]
	m := &FlameMerger{by: by, res: &Flame{Profile: flame.New(unit)}}
	if o.Weight == "latency" {
		m.lat = NewLatencyMerger(o.Latency)
	}
	return m
}

// Add merges one trace's profile; it takes over f's latency distributions.
func (m *FlameMerger) Add(meta TraceMeta, f *Flame) {
	prefix := ""
	if IsMetaKey(m.by) {
		prefix = flame.CleanFrame(m.by+"="+meta.Value(m.by)) + ";"
	}
	for _, s := range f.Profile.Stacks() {
		m.res.Profile.AddFolded(prefix+s.Folded, s.Value)
	}
	r := m.res
	r.Events += f.Events
	r.NoStack += f.NoStack
	r.DurationNS += f.DurationNS
	addLoss(&r.Lost, f.Lost)
	for _, w := range f.Warnings {
		r.Warnings = append(r.Warnings, meta.File+": "+w)
	}
	if m.lat != nil && f.Latency != nil {
		m.lat.Add(meta, f.Latency)
	}
}

// Result returns the merged profile.
func (m *FlameMerger) Result() *Flame {
	if m.lat != nil {
		m.res.Latency = m.lat.Result()
	}
	return m.res
}

// addLoss adds the loss of one more trace to l.
func addLoss(l *Loss, o Loss) {
	l.Total += o.Total
	l.CaptureTotal += o.CaptureTotal
	l.RingLost += o.RingLost
	l.SourceDropped += o.SourceDropped
	l.NoCPU += o.NoCPU
	l.Window = l.Window || o.Window
	for _, c := range o.ByCPU {
		i := slices.IndexFunc(l.ByCPU, func(x CPULoss) bool { return x.CPU == c.CPU })
		if i < 0 {
			l.ByCPU = append(l.ByCPU, c)
		} else {
			l.ByCPU[i].Count += c.Count
		}
	}
	slices.SortFunc(l.ByCPU, func(a, b CPULoss) int { return cmp.Compare(a.CPU, b.CPU) })
	for _, s := range o.BySource {
		i := slices.IndexFunc(l.BySource, func(x SourceLoss) bool { return x.Source == s.Source })
		if i < 0 {
			l.BySource = append(l.BySource, s)
		} else {
			l.BySource[i].Count += s.Count
		}
	}
	slices.SortFunc(l.BySource, func(a, b SourceLoss) int { return cmp.Compare(a.Source, b.Source) })
}
