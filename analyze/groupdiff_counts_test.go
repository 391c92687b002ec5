package analyze

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/analyze/flame"
)

// hostTrace is one host's trace for the group comparison: a second of
// trace with n events of source "s:busy" and of "s:calm", and stacks of
// the given weights.
func hostTrace(busy, calm uint64, stacks map[string]uint64) *TraceAnalysis {
	p := flame.New("samples")
	for k, v := range stacks {
		p.AddFolded(k, v)
	}
	return &TraceAnalysis{
		Summary: &Summary{Sources: []SourceCount{{Name: "s:busy", Events: busy}, {Name: "s:calm", Events: calm}}},
		Latency: &Latency{DurationNS: 1e9},
		Flame:   &Flame{Profile: p},
	}
}

// A source whose rate doubles on every B host and a stack whose share
// grows on every B host are flagged, with the B hosts that moved most;
// a source and stacks that vary from host to host the same way in both
// groups are not.
func TestCompareGroupsCountsAndStacks(t *testing.T) {
	a, b := NewGroupCollector(0), NewGroupCollector(0)
	for i := 0; i < 12; i++ {
		jitter := uint64(i * 7)
		a.AddAnalysis(TraceMeta{File: fmt.Sprint("a", i), Host: fmt.Sprintf("a-%02d", i)},
			hostTrace(1000+jitter, 500+jitter, map[string]uint64{"cat;open": 100 + jitter, "cat;read": 300}))
		grow := uint64(0)
		if i == 5 {
			grow = 400 // the host that drives the change most
		}
		b.AddAnalysis(TraceMeta{File: fmt.Sprint("b", i), Host: fmt.Sprintf("b-%02d", i)},
			hostTrace(2000+2*jitter, 500+jitter, map[string]uint64{"cat;open": 100 + jitter, "cat;read": 300, "cat;new;path": 150 + grow}))
	}
	d := CompareGroups(a, b, 0.01, 10)
	src := map[string]SourceGroupDiff{}
	for _, s := range d.Sources {
		src[s.Name] = s
	}
	if s := src["s:busy"]; !s.Significant || s.RateChangePct == nil || *s.RateChangePct < 90 || s.OutsideA != 12 || len(s.Drivers) != 5 {
		t.Errorf("busy source: %+v", s)
	}
	if s := src["s:calm"]; s.Significant || s.PValue < 0.5 {
		t.Errorf("calm source flagged: %+v", s)
	}
	st := map[string]StackGroupDiff{}
	for _, s := range d.Stacks {
		st[s.Stack] = s
	}
	if s := st["cat;new;path"]; !s.Significant || s.HostMedianA != 0 || s.HostMedianB < 20 || s.Drivers[0].Host != "b-05" {
		t.Errorf("new stack: %+v", s)
	}
	// The old stacks' shares shrink as the new one takes its part: that
	// is a change of share too, and the test says so.
	if s := st["cat;read"]; !s.Significant || s.DeltaPoints >= 0 {
		t.Errorf("read stack: %+v", s)
	}
	if len(d.Stacks) != 3 {
		t.Errorf("%d stacks compared, want 3", len(d.Stacks))
	}

	// The same groups without the change: nothing is flagged.
	c := NewGroupCollector(0)
	for i := 0; i < 12; i++ {
		jitter := uint64((11 - i) * 7)
		c.AddAnalysis(TraceMeta{File: fmt.Sprint("c", i), Host: fmt.Sprintf("c-%02d", i)},
			hostTrace(1000+jitter, 500+jitter, map[string]uint64{"cat;open": 100 + jitter, "cat;read": 300}))
	}
	d = CompareGroups(a, c, 0.01, 10)
	for _, s := range d.Sources {
		if s.Significant {
			t.Errorf("unchanged source flagged: %+v", s)
		}
	}
	for _, s := range d.Stacks {
		if s.Significant {
			t.Errorf("unchanged stack flagged: %+v", s)
		}
	}
}

// A fleet whose hosts each have thousands of rare stacks of their own
// keeps only each trace's maxStacksPerTrace heaviest ones, says how much
// weight it folded, and still finds the one stack whose share grew.
func TestCompareGroupsStackCap(t *testing.T) {
	const hosts, rare = 40, 3000
	a, b := NewGroupCollector(0), NewGroupCollector(0)
	var foldedA, totalA uint64
	for i := 0; i < hosts; i++ {
		for gi, g := range []*GroupCollector{a, b} {
			host := fmt.Sprintf("%c-%02d", 'a'+gi, i)
			st := map[string]uint64{"app;read": 5000 + uint64(i)*10}
			if gi == 1 {
				st["app;write;slow"] = 3000 + uint64(i)*10
			}
			var rareW uint64
			for k := 0; k < rare; k++ {
				w := uint64(1 + (k+i)%3)
				st[fmt.Sprintf("app;%s;rare%d", host, k)] = w
				rareW += w
			}
			g.AddAnalysis(TraceMeta{File: host, Host: host}, hostTrace(1000, 500, st))
			if gi == 0 {
				// Kept: app;read and the 255 heaviest rare stacks.
				var ws []uint64
				for k := 0; k < rare; k++ {
					ws = append(ws, uint64(1+(k+i)%3))
				}
				slices.Sort(ws)
				var kept uint64
				for _, w := range ws[max(0, len(ws)-(maxStacksPerTrace-1)):] {
					kept += w
				}
				foldedA += rareW - kept
				totalA += rareW + 5000 + uint64(i)*10
			}
		}
	}
	for _, g := range []*GroupCollector{a, b} {
		entries := 0
		for _, m := range g.stacks.byName {
			entries += len(m)
		}
		if entries > hosts*maxStacksPerTrace || len(g.stacks.names) > hosts*maxStacksPerTrace || entries > hosts*rare/4 {
			t.Errorf("%d host entries of %d stacks kept, want at most %d", entries, len(g.stacks.names), hosts*maxStacksPerTrace)
		}
	}
	d := CompareGroups(a, b, 0.01, 10)
	keep := maxStacksPerTrace
	if want := uint64(max(0, hosts*(rare+1-keep))); d.A.StacksPerTrace != keep || d.A.StacksFolded != want {
		t.Errorf("A folded %d stacks (cap %d), want %d", d.A.StacksFolded, d.A.StacksPerTrace, want)
	}
	if want := 100 * float64(foldedA) / float64(totalA); math.Abs(d.A.StackWeightFoldedPct-want) > 1e-9 {
		t.Errorf("A folded %.6f%% of its stack weight, want %.6f%%", d.A.StackWeightFoldedPct, want)
	}
	var found bool
	for _, s := range d.Stacks {
		if s.Stack == "app;write;slow" {
			found = s.Significant && s.HostMedianA == 0 && s.HostMedianB > 10
		}
		if s.Significant && strings.Contains(s.Stack, "rare") {
			t.Errorf("a rare stack flagged: %+v", s)
		}
	}
	if !found {
		t.Errorf("the grown stack is not flagged: %+v", d.Stacks)
	}
	var buf strings.Builder
	if err := WriteGroupDiffText(&buf, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), fmt.Sprintf("each trace's %d heaviest stacks compared", maxStacksPerTrace)) {
		t.Errorf("the text does not state the cap:\n%s", buf.String())
	}
}
