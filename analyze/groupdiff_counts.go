package analyze

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/kpcap/kpcap/analyze/flame"
	"github.com/kpcap/kpcap/analyze/internal/symname"
	"github.com/kpcap/kpcap/analyze/stats"
)

// SourceGroupDiff is one event source's change in events per second
// between the groups, hosts being the samples as for latency.
type SourceGroupDiff struct {
	Name string   `json:"name"`
	A    RateSide `json:"a"`
	B    RateSide `json:"b"`
	// RateChangePct is the change of the median of per-host rates.
	RateChangePct *float64 `json:"rate_change_pct"`
	// PValue is the two-sided Mann-Whitney U p-value of the per-host rates.
	PValue      float64     `json:"p_value"`
	Significant bool        `json:"significant"`
	Drivers     []HostShift `json:"drivers"` // ChangePct and Median: events/s here
	OutsideA    int         `json:"hosts_outside_a"`
	OnlyIn      string      `json:"only_in,omitempty"`
}

// RateSide is one group's events of a source, per host.
type RateSide struct {
	Hosts  int    `json:"hosts"`
	Events uint64 `json:"events"`
	// HostMedian, HostP25/HostP75 and HostMin/HostMax are the per-host
	// events per second of trace: their median and spread.
	HostMedian float64 `json:"host_median_per_sec"`
	HostP25    float64 `json:"host_p25_per_sec"`
	HostP75    float64 `json:"host_p75_per_sec"`
	HostMin    float64 `json:"host_min_per_sec"`
	HostMax    float64 `json:"host_max_per_sec"`
}

// StackGroupDiff is one call stack's change in share between the groups:
// a host's share is the stack's weight over all of the host's stacks, and
// the groups are compared by per-host shares (a host without the stack
// has share 0).
type StackGroupDiff struct {
	Stack string `json:"stack"`
	// ShareA and ShareB pool each group's stacks, in percent.
	ShareA float64 `json:"share_a_pct"`
	ShareB float64 `json:"share_b_pct"`
	// HostMedianA/B are the medians of the per-host shares, in percent;
	// DeltaPoints is HostMedianB - HostMedianA.
	HostMedianA float64 `json:"host_median_a_pct"`
	HostMedianB float64 `json:"host_median_b_pct"`
	HostP25A    float64 `json:"host_p25_a_pct"`
	HostP75A    float64 `json:"host_p75_a_pct"`
	HostP25B    float64 `json:"host_p25_b_pct"`
	HostP75B    float64 `json:"host_p75_b_pct"`
	DeltaPoints float64 `json:"delta_points"`
	PValue      float64 `json:"p_value"`
	Significant bool    `json:"significant"`
	// Drivers are the B hosts whose share differs most from A's median
	// share (ChangePct is in percentage points here, Median unused).
	Drivers []HostShift `json:"drivers"`
}

// hostCounts are one group's per-host counts of named things (sources or
// stacks) and the order the names came in.
type hostCounts struct {
	byName map[string]map[string]uint64 // name -> host -> count
	total  map[string]uint64            // host -> all counts (stacks)
	pooled map[string]uint64            // name -> count over hosts
	names  []string
	folded uint64 // counted in total only (stacks past maxStacksPerTrace)
}

func newHostCounts() *hostCounts {
	return &hostCounts{byName: map[string]map[string]uint64{}, total: map[string]uint64{}, pooled: map[string]uint64{}}
}

// add counts n of name on host; a zero count still registers the host as
// having the name (a source recorded without events).
func (h *hostCounts) add(name, host string, n uint64) {
	m := h.byName[name]
	if m == nil {
		m = map[string]uint64{}
		h.byName[name] = m
		h.names = append(h.names, name)
	}
	m[host] += n
	h.total[host] += n
	h.pooled[name] += n
}

// AddAnalysis adds one trace's full analysis (summary, latency, stacks)
// to the group: latency as Add does, plus per-host event counts per
// source and per-host stack weights (stack frames normalized as in a
// two-trace diff).
func (g *GroupCollector) AddAnalysis(meta TraceMeta, t *TraceAnalysis) {
	g.Add(meta, t.Latency)
	host := meta.HostKey()
	if g.sources == nil {
		g.sources, g.stacks = newHostCounts(), newHostCounts()
	}
	for _, s := range t.Summary.Sources {
		g.sources.add(symname.Normalize(s.Name), host, s.Events)
	}
	if t.Flame != nil {
		p := t.Flame.Profile.Map(symname.Normalize)
		ss := p.Stacks()
		// The heaviest first: a group keeps each trace's
		// maxStacksPerTrace heaviest stacks, so that hundreds of hosts'
		// long tails of rare stacks do not all stay in memory.
		slices.SortStableFunc(ss, func(x, y flame.Stack) int { return cmp.Compare(y.Value, x.Value) })
		g.info.StacksPerTrace = maxStacksPerTrace
		for i, s := range ss {
			if i < maxStacksPerTrace {
				g.stacks.add(s.Folded, host, s.Value)
				continue
			}
			g.stacks.fold(host, s.Value)
			g.info.StacksFolded++
		}
	}
}

// maxStacksPerTrace is how many of each trace's heaviest stacks a group
// comparison keeps. The lighter ones count in their host's total weight
// (so the kept stacks' shares stay shares of everything) but are compared
// as absent: a stack that changes share across a fleet is heavy on the
// hosts that show the change. GroupInfo says how much weight was folded.
const maxStacksPerTrace = 256

// fold counts n of host's stack weight in its total only.
func (h *hostCounts) fold(host string, n uint64) {
	h.total[host] += n
	h.folded += n
}

func (g *GroupCollector) hostList() []string {
	hosts := make([]string, 0, len(g.hostDur))
	for h := range g.hostDur {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	return hosts
}

// sourceRates are the per-host events/s of a source, over the hosts whose
// traces have it.
func (g *GroupCollector) sourceRates(name string) (hosts []string, rates []float64, events uint64) {
	if g.sources == nil {
		return nil, nil, 0
	}
	m := g.sources.byName[name]
	for _, h := range g.hostList() {
		n, ok := m[h]
		if !ok {
			continue
		}
		r := 0.0
		if d := g.hostDur[h]; d > 0 {
			r = float64(n) / (float64(d) / 1e9)
		}
		hosts = append(hosts, h)
		rates = append(rates, r)
		events += n
	}
	return hosts, rates, events
}

func rateSide(rates []float64, events uint64) RateSide {
	s := RateSide{Hosts: len(rates), Events: events}
	if len(rates) == 0 {
		return s
	}
	sr := slices.Clone(rates)
	slices.Sort(sr)
	s.HostMedian, s.HostP25, s.HostP75 = nearest(sr, 0.5), nearest(sr, 0.25), nearest(sr, 0.75)
	s.HostMin, s.HostMax = sr[0], sr[len(sr)-1]
	return s
}

// compareSources fills d.Sources.
func compareSources(d *GroupDiff, a, b *GroupCollector, alpha float64) {
	var names []string
	for _, g := range []*GroupCollector{a, b} {
		if g.sources == nil {
			continue
		}
		for _, n := range g.sources.names {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	d.Sources = []SourceGroupDiff{}
	for _, n := range names {
		_, ar, ae := a.sourceRates(n)
		bh, br, be := b.sourceRates(n)
		sd := SourceGroupDiff{Name: n, A: rateSide(ar, ae), B: rateSide(br, be), PValue: 1, Drivers: []HostShift{}}
		switch {
		case len(ar) == 0:
			sd.OnlyIn = "b"
		case len(br) == 0:
			sd.OnlyIn = "a"
		default:
			sd.RateChangePct = pct(sd.A.HostMedian, sd.B.HostMedian)
			sd.PValue = stats.MannWhitneyGroups(rates(ar), rates(br)).P
			sd.Significant = sd.PValue <= alpha
			sd.Drivers, sd.OutsideA = hostShifts(bh, br, sd.A.HostMin, sd.A.HostMax, sd.A.HostMedian, func(v float64) uint64 { return uint64(math.Round(v)) })
		}
		d.Sources = append(d.Sources, sd)
	}
}

// stackShares are every host's share (in percent) of stack k.
func (g *GroupCollector) stackShares(k string) (hosts []string, shares []float64) {
	for _, h := range g.hostList() {
		s := 0.0
		if g.stacks != nil {
			if t := g.stacks.total[h]; t > 0 {
				s = 100 * float64(g.stacks.byName[k][h]) / float64(t)
			}
		}
		hosts = append(hosts, h)
		shares = append(shares, s)
	}
	return hosts, shares
}

func pooledShare(g *GroupCollector, k string) float64 {
	if g.stacks == nil {
		return 0
	}
	var t uint64
	for _, v := range g.stacks.total {
		t += v
	}
	return share(g.stacks.pooled[k], t)
}

// compareStacks fills d.Stacks with the top stacks by change of pooled
// share, each tested over per-host shares.
func compareStacks(d *GroupDiff, a, b *GroupCollector, alpha float64, top int) {
	if top <= 0 {
		top = 30
	}
	type cand struct {
		k      string
		sa, sb float64
	}
	seen := map[string]bool{}
	var cs []cand
	for _, g := range []*GroupCollector{a, b} {
		if g.stacks == nil {
			continue
		}
		for _, k := range g.stacks.names {
			if !seen[k] {
				seen[k] = true
				cs = append(cs, cand{k, pooledShare(a, k), pooledShare(b, k)})
			}
		}
	}
	slices.SortFunc(cs, func(x, y cand) int {
		return cmp.Or(cmp.Compare(math.Abs(y.sb-y.sa), math.Abs(x.sb-x.sa)), strings.Compare(x.k, y.k))
	})
	d.Stacks = []StackGroupDiff{}
	for _, c := range cs[:min(top, len(cs))] {
		_, as := a.stackShares(c.k)
		bh, bs := b.stackShares(c.k)
		sd := StackGroupDiff{Stack: c.k, ShareA: c.sa, ShareB: c.sb, PValue: 1, Drivers: []HostShift{}}
		sa, sb := rateSide(as, 0), rateSide(bs, 0)
		sd.HostMedianA, sd.HostP25A, sd.HostP75A = sa.HostMedian, sa.HostP25, sa.HostP75
		sd.HostMedianB, sd.HostP25B, sd.HostP75B = sb.HostMedian, sb.HostP25, sb.HostP75
		sd.DeltaPoints = sd.HostMedianB - sd.HostMedianA
		if len(as) > 0 && len(bs) > 0 {
			sd.PValue = stats.MannWhitneyGroups(ppm(as), ppm(bs)).P
			sd.Significant = sd.PValue <= alpha
			for i, h := range bh {
				sd.Drivers = append(sd.Drivers, HostShift{Host: h, ChangePct: bs[i] - sd.HostMedianA})
			}
			sd.Drivers = sortDrivers(sd.Drivers)
		}
		d.Stacks = append(d.Stacks, sd)
	}
}

// ppm turns percentages into integer parts per million for the rank test.
func ppm(p []float64) []uint64 {
	out := make([]uint64, len(p))
	for i, v := range p {
		out[i] = uint64(math.Round(v * 1e4))
	}
	return out
}

// hostShifts lists how far each of group B's hosts (its value in vals)
// moved from group A's median med, in percent of it (0 when it is 0), the
// farthest first (sortDrivers), and counts the B hosts outside A's range
// [lo, hi]. shown is the value a shift reports as the host's median.
func hostShifts[T uint64 | float64](hosts []string, vals []T, lo, hi, med T, shown func(T) uint64) (drivers []HostShift, outside int) {
	drivers = []HostShift{}
	for i, h := range hosts {
		if vals[i] < lo || vals[i] > hi {
			outside++
		}
		c := 0.0
		if med > 0 {
			c = (float64(vals[i]) - float64(med)) / float64(med) * 100
		}
		drivers = append(drivers, HostShift{Host: h, Median: shown(vals[i]), ChangePct: c})
	}
	return sortDrivers(drivers), outside
}

// sortDrivers orders hosts by how far they moved and keeps the first 5.
func sortDrivers(d []HostShift) []HostShift {
	slices.SortStableFunc(d, func(x, y HostShift) int {
		return cmp.Or(cmp.Compare(math.Abs(y.ChangePct), math.Abs(x.ChangePct)), cmp.Compare(x.Host, y.Host))
	})
	return d[:min(5, len(d))]
}
