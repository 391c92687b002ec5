package analyze

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/analyze/internal/testtrace"
)

func densitySum(l TimelineLane) uint64 {
	var n uint64
	for _, c := range l.Density {
		n += uint64(c)
	}
	return n
}

func TestTimelineAllItems(t *testing.T) {
	path := testtrace.Openat(t, filepath.Join(t.TempDir(), "a.pcapng.zst"), "6.1.0-test", "", 1000, 1, 7)
	ta, err := AnalyzeTimeline(openReplay(t, path), SummaryOptions{}, LatencyOptions{}, TimelineOptions{ThreadLanes: 2})
	if err != nil {
		t.Fatal(err)
	}
	tl := ta.Timeline
	var pairs uint64
	for _, f := range ta.Latency.Functions {
		pairs += f.Count
	}
	// 1000 openat pairs and 1200 uprobe pairs (every 5th call recurses).
	if pairs != 2200 || tl.Pairs != pairs || len(tl.Slices.Start) != int(pairs) || tl.OmittedSlices != 0 {
		t.Fatalf("pairs: latency %d, timeline %d, slices %d, omitted %d", pairs, tl.Pairs, len(tl.Slices.Start), tl.OmittedSlices)
	}
	if tl.InstantsTotal != 10 || len(tl.Instants.T) != 10 || tl.OmittedInstants != 0 {
		t.Errorf("instants: %d of %d", len(tl.Instants.T), tl.InstantsTotal)
	}
	if !slices.IsSorted(tl.Slices.Start) || !slices.IsSorted(tl.Instants.T) {
		t.Error("items not sorted by time")
	}
	var kinds []string
	var cpuEvents, threadEvents uint64
	for _, l := range tl.Lanes {
		kinds = append(kinds, l.Kind)
		if densitySum(l) != l.Events {
			t.Errorf("lane %s: density sums to %d, events %d", l.Name, densitySum(l), l.Events)
		}
		if len(l.Density) > TimelineBuckets {
			t.Errorf("lane %s: %d buckets", l.Name, len(l.Density))
		}
		switch l.Kind {
		case "cpu":
			cpuEvents += l.Events
		case "thread", "threads":
			threadEvents += l.Events
		}
	}
	// Threads 100 and 201 are the busiest; 300 and 301 (one event each) fold.
	if want := []string{"cpu", "cpu", "thread", "thread", "threads", "loss"}; !slices.Equal(kinds, want) {
		t.Fatalf("lanes %v, want %v", kinds, want)
	}
	if tl.Lanes[2].TID != 100 || tl.Lanes[3].TID != 201 || tl.Lanes[2].Name != "cat 100" || tl.Lanes[4].Events != 2 || tl.FoldedThreads != 2 {
		t.Errorf("thread lanes %+v %+v %+v", tl.Lanes[2].Name, tl.Lanes[3].Name, tl.Lanes[4])
	}
	if cpuEvents != ta.Summary.Events || threadEvents != ta.Summary.Events {
		t.Errorf("lane events cpu %d threads %d, trace %d", cpuEvents, threadEvents, ta.Summary.Events)
	}
	if loss := tl.Lanes[5]; loss.Events != 7 || len(tl.Losses.T) != 1 || tl.Losses.CPU[0] != 1 {
		t.Errorf("loss lane %+v, records %+v", loss.Events, tl.Losses)
	}
	// Slices lie on the thread lanes; the exec events' field text is kept.
	for i, l := range tl.Slices.Lane {
		if k := tl.Lanes[l].Kind; k != "thread" {
			t.Fatalf("slice %d on a %s lane", i, k)
		}
		if tl.Slices.Start[i]+tl.Slices.Dur[i] > tl.SpanNS {
			t.Fatalf("slice %d ends past the span", i)
		}
	}
	if txt := tl.Instants.Text[0]; txt < 0 || tl.Strings[txt] == "" || tl.Sources[tl.Instants.Src[0]] != "sched:sched_process_exec" {
		t.Errorf("instant 0: text %d, src %d", txt, tl.Instants.Src[0])
	}
	// Slices carry their entry's and return's fields.
	withFields := 0
	for i := range tl.Slices.Start {
		e, r := tl.Slices.Text[i], tl.Slices.RetText[i]
		if e >= 0 && r >= 0 && strings.HasPrefix(tl.Strings[e], "dfd=-100 filename=/etc/") && strings.Contains(tl.Strings[r], "ret=3") {
			withFields++
		}
	}
	if withFields != 1200 { // the uprobe pairs: a string filename, ret 3
		t.Errorf("%d slices with entry and return fields, want 1200", withFields)
	}
	// The longest openat pairs are the outliers, longest first.
	fn := slices.Index(tl.Funcs, "syscall:openat")
	if fn < 0 || len(tl.Outliers[fn]) != 10 {
		t.Fatalf("funcs %v, outliers %v", tl.Funcs, tl.Outliers)
	}
	var maxDur uint64
	for i := range 1000 {
		maxDur = max(maxDur, testtrace.OpenatDur(i))
	}
	if d := tl.Slices.Dur[tl.Outliers[fn][0]]; d != maxDur {
		t.Errorf("longest outlier %d, want %d", d, maxDur)
	}
}

// TestTimelineBounded: with a cap well below the items, evenly spread
// windows keep theirs, the rest is counted as omitted, outliers stay.
func TestTimelineBounded(t *testing.T) {
	path := testtrace.Openat(t, filepath.Join(t.TempDir(), "a.pcapng.zst"), "6.1.0-test", "", 5000, 1, 0)
	ta, err := AnalyzeTimeline(openReplay(t, path), SummaryOptions{}, LatencyOptions{}, TimelineOptions{MaxItems: 1000})
	if err != nil {
		t.Fatal(err)
	}
	tl := ta.Timeline
	kept := len(tl.Slices.Start) + len(tl.Instants.T)
	if tl.OmittedSlices == 0 || kept > 1000+2*timelineOutliers || kept < 250 {
		t.Fatalf("kept %d items, omitted %d slices", kept, tl.OmittedSlices)
	}
	if tl.Pairs != 11000 || uint64(len(tl.Slices.Start))+tl.OmittedSlices != tl.Pairs {
		t.Errorf("pairs %d = %d kept + %d omitted?", tl.Pairs, len(tl.Slices.Start), tl.OmittedSlices)
	}
	if tl.Stride < 2 || tl.WindowNS == 0 {
		t.Fatalf("stride %d window %d", tl.Stride, tl.WindowNS)
	}
	// Every kept slice but the outliers lies in a kept window.
	outlier := map[int]bool{}
	for _, o := range tl.Outliers {
		for _, i := range o {
			outlier[i] = true
		}
	}
	windows := map[uint64]bool{}
	for i, s := range tl.Slices.Start {
		w := s / tl.WindowNS
		if !outlier[i] && w%tl.Stride != 0 {
			t.Fatalf("slice %d in window %d, stride %d", i, w, tl.Stride)
		}
		windows[w] = true
	}
	if len(windows) < 2 {
		t.Errorf("kept windows %v: not spread over the trace", windows)
	}
}
