package analyze

import (
	"fmt"
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
