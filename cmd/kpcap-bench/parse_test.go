package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// perfScriptOut is real `perf script -F pid,tid,cpu,time,event --ns
// --show-lost-events` output (perf 6.1), with one duplicated sample and a
// sample of another pid added.
const perfScriptOut = `14213/14213 [001]   348.459174960: syscalls:sys_enter_getppid: 
14213/14213 [001]   348.459176041: syscalls:sys_enter_getppid: 
14213/14213 [001]   348.459280206: PERF_RECORD_LOST lost 113
14213/14213 [001]   348.459280206: syscalls:sys_enter_getppid: 
14213/14213 [001]   348.459280206: syscalls:sys_enter_getppid: 
  999/1000  [000]   348.459280206: syscalls:sys_enter_getppid: 
14213/14213 [001]   348.553805907: PERF_RECORD_LOST lost 181
14213/14213 [000]   348.553805907: syscalls:sys_exit_openat: 
`

func TestParsePerfScript(t *testing.T) {
	c := newSampleCounter(14213)
	if err := parsePerfScript(strings.NewReader(perfScriptOut), c); err != nil {
		t.Fatal(err)
	}
	got := c.counts()
	want := sampleCounts{Total: 6, Duplicates: 1, PID: 4, Lost: 294,
		PerEvent: map[string]uint64{"syscalls:sys_enter_getppid": 3, "syscalls:sys_exit_openat": 1}}
	if !equalCounts(got, want) {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
}

func equalCounts(a, b sampleCounts) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestParsePerfScriptErrors(t *testing.T) {
	for _, line := range []string{
		"garbage",
		"14213 [001] 348.459174960: ev:",                   // no tid
		"1/2 [x] 348.459174960: ev:",                       // bad cpu
		"1/2 [001] 348.4591749: ev:",                       // not --ns
		"1/2 [001] 348.459174960: PERF_RECORD_LOST lost x", // bad count
		"a/2 [001] 348.459174960: ev:",
	} {
		c := newSampleCounter(1)
		if err := parsePerfScript(strings.NewReader(line+"\n"), c); err == nil {
			t.Errorf("%q: no error", line)
		}
	}
}

func TestParseSecondsNS(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"348.459174960", 348459174960, true},
		{"0.000000001", 1, true},
		{"18446744073.709551615", 18446744073709551615, true},
		{"348.45917496", 0, false},
		{"348", 0, false},
		{"-1.000000000", 0, false},
	}
	for _, tc := range tests {
		got, err := parseSecondsNS(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSecondsNS(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// perfStatsOut is real `perf report --stats` output (perf 6.1) of a trace of
// two events; the aggregated LOST_SAMPLES line counts records, not samples.
const perfStatsOut = `
Aggregated stats:
           TOTAL events:    2313972
            LOST events:         37  ( 0.0%)
          SAMPLE events:    1985479  (85.8%)
    LOST_SAMPLES events:          2  ( 0.0%)
  FINISHED_ROUND events:     328144  (14.2%)
syscalls:sys_enter_openat stats:
          SAMPLE events:    1985479
    LOST_SAMPLES events:      14568
syscalls:sys_exit_openat stats:
          SAMPLE events:    1985479
    LOST_SAMPLES events:      100
`

func TestParsePerfStatsLost(t *testing.T) {
	got, err := parsePerfStatsLost(strings.NewReader(perfStatsOut))
	if err != nil || got != 14668 {
		t.Fatalf("lost = %d, %v; want 14668", got, err)
	}
	got, err = parsePerfStatsLost(strings.NewReader("x stats:\n SAMPLE events: 5\n"))
	if err != nil || got != 0 {
		t.Fatalf("no loss lines: lost = %d, %v; want 0", got, err)
	}
	if _, err := parsePerfStatsLost(strings.NewReader("x stats:\n LOST_SAMPLES events: many\n")); err == nil {
		t.Fatal("bad count: no error")
	}
}

func TestParseKpcapInfo(t *testing.T) {
	n, lost, probes, err := parseKpcapInfo([]byte(`{"file":"x","probes":[{"name":"a","count":10,"lost":1},{"name":"b","count":5,"lost":0,"kind":"tracepoint"}]}`))
	if err != nil || n != 15 || lost != 1 || len(probes) != 2 || probes[1].Name != "b" {
		t.Fatalf("got %d, %d, %v, %v", n, lost, probes, err)
	}
	for _, bad := range []string{`{}`, `not json`, `{"probes":{}}`} {
		if _, _, _, err := parseKpcapInfo([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestParseWorkload(t *testing.T) {
	w, err := parseWorkload([]byte(`{"kind":"getppid","pid":42,"tid":42,"calls":10,"ns":1234}` + "\n"))
	if err != nil || w.PID != 42 || w.NS != 1234 || w.Calls != 10 {
		t.Fatalf("got %+v, %v", w, err)
	}
	for _, bad := range []string{``, `{"pid":0,"ns":5}`, `{"pid":5}`} {
		if _, err := parseWorkload([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestMedianRatio(t *testing.T) {
	if m := median([]float64{5, 1, 3}); m != 3 {
		t.Errorf("odd median = %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("even median = %v", m)
	}
	if !math.IsNaN(median(nil)) {
		t.Error("empty median is not NaN")
	}
	if r := ratio(3, 2); r != 1.5 {
		t.Errorf("ratio = %v", r)
	}
	if !math.IsNaN(ratio(1, 0)) || !math.IsNaN(ratio(math.NaN(), 1)) {
		t.Error("ratio of unknowns is not NaN")
	}
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		rec, lost, exp uint64
		exact          bool
		want           string
	}{
		{100, 0, 100, true, verdictExact},
		{100, 5, 100, true, verdictExact},
		{95, 5, 100, true, verdictWithinLoss},
		{95, 50, 100, true, verdictWithinLoss},
		{95, 4, 100, true, verdictMismatch},  // samples missing without loss
		{101, 0, 100, true, verdictMismatch}, // extra samples
		{103, 0, 100, false, verdictAtLeast},
		{90, 20, 100, false, verdictWithinLoss},
		{90, 0, 100, false, verdictMismatch},
	}
	for _, tc := range tests {
		if got := verdict(tc.rec, tc.lost, tc.exp, tc.exact); got != tc.want {
			t.Errorf("verdict(%d, %d, %d, %v) = %q, want %q", tc.rec, tc.lost, tc.exp, tc.exact, got, tc.want)
		}
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct{ got, want string }{
		{fmtCount(2000000.0), "2,000,000"},
		{fmtCount(999.0), "999"},
		{fmtCount(-1234.0), "-1,234"},
		{fmtCount(math.NaN()), "–"},
		{fmtRate(785000.0), "785k ev/s"},
		{fmtRate(12.34e6), "12.3M ev/s"},
		{fmtX(1.234), "1.23x"},
		{fmtX(25.4), "25x"},
		{fmtS(jfloat(1.5)), "1.50 s"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	b, err := json.Marshal(struct{ A, B jfloat }{jfloat(math.NaN()), 2.5})
	if err != nil || string(b) != `{"A":null,"B":2.5}` {
		t.Errorf("jfloat JSON = %s, %v", b, err)
	}
}

// syntheticWorkload builds results as runWorkload would, from given runs.
func syntheticWorkload() *Workload {
	w := &Workload{Name: "getppid", Calls: 1000, Events: []string{"syscalls:sys_enter_getppid"}, Expected: 1000, Exact: true}
	mk := func(tool string, ns int64, cpu float64, bytes int64, rec, lost []uint64) *ToolRuns {
		t := &ToolRuns{Tool: tool, Label: toolLabel(tool)}
		for i := range rec {
			r := &Run{Rep: i + 1, WorkloadNS: ns, WorkloadCPU: ns / 2, PID: 7}
			if tool != toolUntraced {
				r.RecorderCPU, r.FileBytes = cpu, bytes
				r.Counts = &sampleCounts{Total: rec[i], PID: rec[i], Lost: lost[i]}
				r.Verdict = verdict(rec[i], lost[i], w.Expected, true)
			}
			t.Runs = append(t.Runs, r)
		}
		return t
	}
	w.Tools = []*ToolRuns{
		mk(toolUntraced, 1000_000, 0, 0, []uint64{0, 0}, []uint64{0, 0}),
		mk(toolPerf, 1300_000, 1.0, 74000, []uint64{1000, 990}, []uint64{0, 10}),
		mk(toolPerfZ, 1500_000, 1.2, 6600, []uint64{1000, 1000}, []uint64{0, 0}),
		mk(toolKpcap, 1200_000, 0.4, 5000, []uint64{1000, 1000}, []uint64{0, 0}),
	}
	for _, t := range w.Tools {
		summarize(t, 1000_000, 500_000, w.Expected)
	}
	w.Analysis = []*Analysis{
		{Name: "perf script", Source: "perf record", Events: 1000, Seconds: []float64{1, 3, 0.5}, CPUSeconds: []float64{1, 1, 1}},
		{Name: "kpcap replay", Source: "kpcap record", Events: 2000, Seconds: []float64{0.2, 0.2, 0.3}, CPUSeconds: []float64{0.4, 0.4, 0.4}},
		{Name: "kpcap analyze summary", Source: "kpcap record", Events: 2000, Seconds: []float64{0.2}, CPUSeconds: []float64{0.2}},
		{Name: "kpcap analyze latency", Source: "kpcap record", Error: "boom"},
	}
	finishAnalysis(w.Analysis)
	return w
}

func TestSummarizeAndTargets(t *testing.T) {
	w := syntheticWorkload()
	k := w.tool(toolKpcap).Median
	if k.OK != 2 || k.Slowdown != 1.2 || k.CPUSlowdown != 1.2 || k.WorkloadCPUMS != 0.6 || math.Abs(float64(k.OverheadNS)-100) > 1e-9 || k.BytesPerEvent != 5 || k.Verdicts[verdictExact] != 2 {
		t.Fatalf("kpcap medians = %+v", k)
	}
	p := w.tool(toolPerf).Median
	if p.LostRuns != 1 || p.Lost != 5 || p.Verdicts[verdictWithinLoss] != 1 {
		t.Fatalf("perf medians = %+v", p)
	}
	if !math.IsNaN(float64(w.tool(toolUntraced).Median.RecorderCPU)) {
		t.Fatal("untraced has a recorder CPU time")
	}
	if a := w.analysis("kpcap replay"); a.VsPerfScript != 10 || a.VsPerfScriptCPU != 5 || a.EventsPerSec != 10000 {
		t.Fatalf("replay analysis = %+v", a)
	}
	if a := w.analysis("kpcap analyze latency"); !math.IsNaN(float64(a.VsPerfScript)) {
		t.Fatalf("failed analysis has a ratio: %+v", a)
	}
	targets := evaluateTargets([]*Workload{w})
	want := map[string]bool{
		"workload slowdown":           true,  // 1.2 <= 1.3
		"workload CPU slowdown":       true,  // 1.2 <= 1.3
		"recorder CPU":                true,  // 0.4 <= 0.5
		"samples lost":                true,  // 0 in rep 1, where perf lost 0
		"bytes/event":                 true,  // 5 <= 6.6
		"kpcap replay speed":          true,  // 10 >= 5
		"kpcap analyze summary speed": false, // 10 < 20
	}
	if len(targets) != len(want) {
		t.Fatalf("got %d targets, want %d: %+v", len(targets), len(want), targets)
	}
	for _, tg := range targets {
		if tg.Pass == nil || *tg.Pass != want[tg.Name] {
			t.Errorf("target %q: pass = %v, want %v (%+v)", tg.Name, tg.Pass, want[tg.Name], tg)
		}
	}
	var md bytes.Buffer
	writeMarkdown(&md, &Report{Workloads: []*Workload{w}, Targets: targets, Config: Config{Runs: 2}})
	for _, s := range []string{"| workload slowdown | 1.00x | 1.30x | 1.50x | 1.20x |", "| bytes per event | – | 74.4 | 6.6 | 5.0 |",
		"| 1 exact, 1 within loss |", "| getppid | kpcap analyze summary speed | ≥ 20x perf script |", "❌ miss",
		"| 1.20x (met in 2/2 paired runs) |", "| 0.40 s (met in 2/2 paired runs) |"} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("markdown lacks %q:\n%s", s, md.String())
		}
	}
	if _, err := json.Marshal(&Report{Workloads: []*Workload{w}, Targets: targets}); err != nil {
		t.Fatalf("JSON: %v", err)
	}
}

// TestPairedWins compares kpcap with the better perf run of the same
// repetition, skipping repetitions where a run failed.
func TestPairedWins(t *testing.T) {
	runs := func(tool string, ns ...int64) *ToolRuns {
		tr := &ToolRuns{Tool: tool}
		for i, v := range ns {
			r := &Run{Rep: i + 1, WorkloadNS: v}
			if v < 0 {
				r.Error = "failed"
			}
			tr.Runs = append(tr.Runs, r)
		}
		return tr
	}
	w := &Workload{Tools: []*ToolRuns{
		runs(toolPerf, 100, 100, 100, 100, 100),
		runs(toolPerfZ, 90, 120, 100, -1, 100),
		runs(toolKpcap, 95, 99, 100, 101, -1),
	}}
	ns := func(r *Run) float64 { return float64(r.WorkloadNS) }
	// rep 1: 95 > 90 (perf -z); rep 2: 99 <= 100; rep 3: tie; rep 4: 101 > 100
	// (perf -z failed, perf counts); rep 5: kpcap failed.
	if wins, n := pairedWins(w, ns, 1); wins != 2 || n != 4 {
		t.Errorf("pairedWins = %d/%d, want 2/4", wins, n)
	}
	if wins, n := pairedWins(w, ns, 0.5); wins != 0 || n != 4 {
		t.Errorf("pairedWins at half = %d/%d, want 0/4", wins, n)
	}
	if got := pairedNote(w, ns, 1); got != " (met in 2/4 paired runs)" {
		t.Errorf("pairedNote = %q", got)
	}
}

func TestParseProcStatCPU(t *testing.T) {
	// A real /proc/PID/stat line, with a command name holding ") (".
	line := "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 1140 0 0 0 150 25 0 0 20 0 9 0 4200 1234 567 18446744073709551615"
	got, err := parseProcStatCPU(line, 100)
	if err != nil || got != 1750*time.Millisecond {
		t.Fatalf("got %v, %v; want 1.75s", got, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x 2"} {
		if _, err := parseProcStatCPU(bad, 100); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParsePerfReportTop(t *testing.T) {
	const out = `# Samples: 4K of event 'cpu-clock:ppp'
#
# Overhead  Shared Object      Symbol
# ........  .................  ......
#
    12.87%  [kernel.kallsyms]  [k] finish_task_switch.isra.0
    11.91%  kpcap              [.] github.com/klauspost/compress/zstd.(*fastEncoder).Encode
     0.32%  kpcap              [.] slices.partialInsertionSortCmpFunc[go.shape.struct { a uint64 }]
`
	got, err := parsePerfReportTop(strings.NewReader(out), 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("got %+v, %v", got, err)
	}
	if got[1] != (ProfileEntry{11.91, "kpcap", "github.com/klauspost/compress/zstd.(*fastEncoder).Encode"}) ||
		got[2].Symbol != "slices.partialInsertionSortCmpFunc[go.shape.struct { a uint64 }]" {
		t.Fatalf("got %+v", got)
	}
	if got, _ := parsePerfReportTop(strings.NewReader(out), 1); len(got) != 1 || got[0].Percent != 12.87 {
		t.Fatalf("limit: got %+v", got)
	}
}

func TestBusy(t *testing.T) {
	tests := []struct {
		load string
		cpus int
		want bool
	}{
		{"2.50 1.00 0.50", 2, true},
		{"1.99 5.00 5.00", 2, false},
		{"", 2, false},
		{"x", 2, false},
	}
	for _, tc := range tests {
		if got := busy(tc.load, tc.cpus); got != tc.want {
			t.Errorf("busy(%q, %d) = %v", tc.load, tc.cpus, got)
		}
	}
}

func FuzzParsePerfScriptLine(f *testing.F) {
	for _, l := range strings.Split(perfScriptOut, "\n") {
		f.Add(l)
	}
	f.Add("1/2 [3] 4.000000005: PERF_RECORD_LOST")
	f.Fuzz(func(t *testing.T, line string) {
		c := newSampleCounter(1)
		if err := parsePerfScriptLine(line, c); err == nil && len(c.keys)+int(c.lost) == 0 && !strings.Contains(line, "LOST") {
			t.Fatalf("%q: accepted but nothing counted", line)
		}
	})
}

// TestBPFCostTarget checks the BPF path's cost target: the ratio of the
// added CPU per event to perf's, its per-repetition spread, and the verdict.
func TestBPFCostTarget(t *testing.T) {
	w := &Workload{Name: "getppid", Expected: 1000, Exact: true}
	mk := func(tool string, cpus ...int64) *ToolRuns {
		tr := &ToolRuns{Tool: tool, Label: toolLabel(tool)}
		for i, c := range cpus {
			tr.Runs = append(tr.Runs, &Run{Rep: i + 1, WorkloadNS: c, WorkloadCPU: c, PID: 7})
		}
		return tr
	}
	// Untraced 1 ms; perf adds 400 and 600 ns/event; BPF 100 and 300.
	w.Tools = []*ToolRuns{mk(toolUntraced, 1000_000, 1000_000), mk(toolPerf, 1400_000, 1600_000), mk(toolKpcapBPF, 1100_000, 1300_000)}
	for _, tr := range w.Tools {
		summarize(tr, 1000_000, 1000_000, w.Expected)
	}
	tg, ok := bpfCostTarget(w)
	if !ok || tg.Pass == nil || !*tg.Pass {
		t.Fatalf("target %+v, want a pass (200 ns vs 500 ns)", tg)
	}
	if tg.Perf != "500 ns" || !strings.Contains(tg.Kpcap, "200 ns (0.40x, runs 0.25x–0.50x)") {
		t.Errorf("target texts %q / %q", tg.Perf, tg.Kpcap)
	}
	if note := baselineNote(w); note != "" {
		t.Errorf("equal untraced runs noted: %s", note)
	}
	// Repetition 2 ran while something else slowed every syscall by
	// 300 ns: over its own untraced run, BPF still adds 100 of perf's 400.
	w.Tools = []*ToolRuns{mk(toolUntraced, 1000_000, 1300_000), mk(toolPerf, 1400_000, 1700_000), mk(toolKpcapBPF, 1100_000, 1400_000)}
	for _, tr := range w.Tools {
		summarize(tr, 1000_000, 1000_000, w.Expected)
	}
	if tg, _ := bpfCostTarget(w); !strings.Contains(tg.Kpcap, "runs 0.25x–0.25x") {
		t.Errorf("spread over each repetition's untraced run: %q", tg.Kpcap)
	}
	if note := baselineNote(w); note != "" {
		t.Errorf("untraced runs 30 %% apart noted: %s", note)
	}
	w.Tools[0] = mk(toolUntraced, 1000_000, 1600_000)
	summarize(w.Tools[0], 1000_000, 1000_000, w.Expected)
	if note := baselineNote(w); !strings.Contains(note, "1 to 2 ms") {
		t.Errorf("untraced runs 60 %% apart: note %q", note)
	}
	w.Tools[2] = mk(toolKpcapBPF, 1400_000, 1400_000)
	summarize(w.Tools[2], 1000_000, 1000_000, w.Expected)
	if tg, _ := bpfCostTarget(w); tg.Pass == nil || *tg.Pass {
		t.Errorf("400 vs 500 ns passes: %+v", tg)
	}
	w.Tools = w.Tools[:2]
	if _, ok := bpfCostTarget(w); ok {
		t.Error("a target without BPF runs")
	}
}

// TestBPFPathTargets checks the BPF path's recorder targets against kpcap
// record's: a clear difference in recorder CPU fails, runs that overlap
// tie, and bytes per event compare by median.
func TestBPFPathTargets(t *testing.T) {
	w := &Workload{Name: "getppid", Expected: 1000, Exact: true}
	mk := func(tool string, bytes int64, cpus ...float64) *ToolRuns {
		tr := &ToolRuns{Tool: tool, Label: toolLabel(tool)}
		for i, c := range cpus {
			tr.Runs = append(tr.Runs, &Run{Rep: i + 1, WorkloadNS: 2e6, WorkloadCPU: 2e6, PID: 7, RecorderCPU: c, FileBytes: bytes,
				Counts: &sampleCounts{Total: 1000, PID: 1000}})
		}
		summarize(tr, 1e6, 1e6, w.Expected)
		return tr
	}
	check := func(name string, wantCPU, wantTie, wantBytes bool) {
		t.Helper()
		tg := bpfPathTargets(w)
		if len(tg) != 2 || tg[0].Pass == nil || tg[1].Pass == nil {
			t.Fatalf("%s: targets %+v", name, tg)
		}
		if *tg[0].Pass != wantCPU || tg[0].Tie != wantTie || *tg[1].Pass != wantBytes {
			t.Errorf("%s: recorder CPU pass %v tie %v, bytes pass %v; want %v %v %v", name, *tg[0].Pass, tg[0].Tie, *tg[1].Pass, wantCPU, wantTie, wantBytes)
		}
	}
	w.Tools = []*ToolRuns{mk(toolKpcap, 2500, 0.20, 0.21, 0.22, 0.20, 0.21), mk(toolKpcapBPF, 2400, 0.30, 0.31, 0.32, 0.30, 0.31)}
	check("BPF 1.5x", false, false, true)
	w.Tools[1] = mk(toolKpcapBPF, 2600, 0.19, 0.22, 0.20, 0.23, 0.21)
	check("overlapping runs, more bytes in every run", true, true, false)
	w.Tools[1] = mk(toolKpcapBPF, 2500, 0.10, 0.11, 0.12, 0.10, 0.11)
	check("BPF half", true, false, true)
	w.Tools = w.Tools[:1]
	if tg := bpfPathTargets(w); tg != nil {
		t.Errorf("targets without BPF runs: %+v", tg)
	}
}
