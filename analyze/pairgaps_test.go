package analyze

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/analyze/internal/testtrace"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
)

var gapSources = []testtrace.Source{
	{Src: format.Source{Name: "syscalls:sys_enter_openat", Kind: format.KindTracepoint, Definition: "syscalls:sys_enter_openat"}, Format: "sys_enter_openat"},
	{Src: format.Source{Name: "syscalls:sys_exit_openat", Kind: format.KindTracepoint, Definition: "syscalls:sys_exit_openat"}, Format: "sys_exit_openat"},
	{Src: format.Source{Name: "sched:sched_process_exec", Kind: format.KindTracepoint, Definition: "sched:sched_process_exec"}, Format: "sched_process_exec"},
}

func openatCall(g *testtrace.Gen, ts, dur uint64, cpu, tid uint32) {
	g.Sample(0, ts, cpu, tid, tid, map[string]any{"__syscall_nr": 257, "dfd": -100, "filename": 0x7ffe0000, "flags": 0}, nil)
	g.Sample(1, ts+dur, cpu, tid, tid, map[string]any{"__syscall_nr": 257, "ret": 3}, nil)
}

// TestLatencyAcrossLoss: a pair with samples of its own sources (or of an
// unknown source) lost on its CPU between entry and return is not made,
// and is counted as across a gap; a loss on another CPU, of another
// source, or outside the pair leaves pairs alone.
func TestLatencyAcrossLoss(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loss.pcapng.zst")
	g := testtrace.New(t, path, "6.1.0", gapSources)
	openatCall(g, 1000, 100, 0, 5) // pairs
	openatCall(g, 2000, 100, 0, 5) // loss of sys_exit_openat on CPU 0 at 2050: broken
	openatCall(g, 3000, 100, 1, 6) // loss of unknown source on CPU 1 at 3001: broken
	openatCall(g, 4000, 100, 0, 5) // loss on CPU 1 at 4050: pairs
	openatCall(g, 5000, 100, 0, 5) // loss of sched_process_exec on CPU 0: pairs
	openatCall(g, 6000, 100, 0, 5) // loss on CPU 0 at 6100 (the return's time): broken
	openatCall(g, 7000, 100, 0, 5) // loss on CPU 0 at 7000 (the entry's time, before it): pairs
	g.Lost(format.Lost{Time: 2050, CPU: 0, Source: 1, Count: 1})
	g.Lost(format.Lost{Time: 3001, CPU: 1, Source: ^uint32(0), Count: 1})
	g.Lost(format.Lost{Time: 4050, CPU: 1, Source: 0, Count: 1})
	g.Lost(format.Lost{Time: 5050, CPU: 0, Source: 2, Count: 1})
	g.Lost(format.Lost{Time: 6100, CPU: 0, Source: 0, Count: 1})
	g.Lost(format.Lost{Time: 7000, CPU: 0, Source: 0, Count: 1})
	g.Close(nil)
	l, err := MeasureLatency(openReplay(t, path), LatencyOptions{UnitNS: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Functions) != 1 || l.Functions[0].Count != 4 || l.AcrossGap != 3 || l.UnmatchedEntries != 3 || l.UnmatchedReturns != 3 || l.Unmatched[0].AcrossGap != 3 {
		t.Errorf("pairs %d, across gap %d, unmatched %d/%d: %+v", l.Functions[0].Count, l.AcrossGap, l.UnmatchedEntries, l.UnmatchedReturns, l.Unmatched)
	}
}

// TestLatencyAcrossMissingFile reads files 1 and 3 of a set: the call
// open at the end of file 1 and the return at the start of file 3 are not
// paired (file 2, which held the real return and the next entry, is
// missing), and another thread's call still open at the end counts as
// across the gap too; pairs inside the files are made.
func TestLatencyAcrossMissingFile(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, seq := range []int{1, 3} {
		start := uint64(seq) * 1_000_000
		path := filepath.Join(dir, format.SetFileName("s.pcapng.zst", seq))
		g := testtrace.NewInSet(t, path, "6.1.0", gapSources, &format.SetInfo{ID: "abcd", Seq: seq, Mode: "rotate", StartNS: start})
		if seq == 3 {
			g.Sample(1, start+10, 0, 5, 5, map[string]any{"__syscall_nr": 257, "ret": 3}, nil)
		}
		for i := range 10 {
			openatCall(g, start+100+uint64(i)*1000, 500, 0, 5)
		}
		if seq == 1 {
			g.Sample(0, start+900_000, 0, 5, 5, map[string]any{"__syscall_nr": 257, "dfd": -100, "filename": 0x7ffe0000, "flags": 0}, nil)
			// Thread 7's call returns in file 2 and it makes no other.
			g.Sample(0, start+900_100, 1, 7, 7, map[string]any{"__syscall_nr": 257, "dfd": -100, "filename": 0x7ffe0000, "flags": 0}, nil)
		}
		g.W.SetEnd(start + 1_000_000)
		g.Close(nil)
		paths = append(paths, path)
	}
	r, err := replay.OpenSet(paths, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l, err := MeasureLatency(r, LatencyOptions{UnitNS: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Functions) != 1 || l.Functions[0].Count != 20 || l.Functions[0].Max != 500 || l.AcrossGap != 2 || l.UnmatchedEntries != 2 || l.UnmatchedReturns != 1 {
		t.Errorf("pairs %d (max %d), across gap %d, unmatched %d/%d", l.Functions[0].Count, l.Functions[0].Max, l.AcrossGap, l.UnmatchedEntries, l.UnmatchedReturns)
	}
	found := false
	for _, w := range l.Warnings {
		found = found || strings.Contains(w, "file 2 of the set is missing")
	}
	if !found {
		t.Errorf("no warning of the missing file: %q", l.Warnings)
	}
}
