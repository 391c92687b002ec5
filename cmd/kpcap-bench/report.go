package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Tool names, in the order every repetition runs them.
const (
	toolUntraced = "untraced"
	toolPerf     = "perf"
	toolPerfZ    = "perf-z"
	toolKpcap    = "kpcap"
	toolKpcapBPF = "kpcap-bpf" // kpcap record --path bpf
	// toolKpcapBPFBase is kpcap record --path bpf by the --kpcap-base
	// binary: an earlier build, to compare two builds in one run.
	toolKpcapBPFBase = "kpcap-bpf-base"
	// toolKpcapSnap is kpcap record --snapshot: a flight recorder asked
	// for one snapshot when the workload is done.
	toolKpcapSnap = "kpcap-snapshot"
)

// isKpcap reports whether tool is kpcap on either capture path, or its
// flight recorder.
func isKpcap(tool string) bool {
	return tool == toolKpcap || tool == toolKpcapBPF || tool == toolKpcapBPFBase || tool == toolKpcapSnap
}

// finishAnalysis computes medians, rates and the ratios to "perf script" on
// wall and on CPU time.
func finishAnalysis(as []*Analysis) {
	nan := jfloat(math.NaN())
	base, baseCPU := math.NaN(), math.NaN()
	for _, a := range as {
		a.MedianS, a.EventsPerSec, a.VsPerfScript, a.CPUMedianS, a.VsPerfScriptCPU = nan, nan, nan, nan, nan
		if a.Error != "" || len(a.Seconds) == 0 {
			continue
		}
		m := median(a.Seconds)
		a.MedianS = jfloat(m)
		a.EventsPerSec = jfloat(ratio(float64(a.Events), m))
		a.CPUMedianS = jfloat(median(a.CPUSeconds))
		if a.Name == "perf script" {
			base = float64(a.EventsPerSec)
			baseCPU = ratio(float64(a.Events), float64(a.CPUMedianS))
		}
	}
	for _, a := range as {
		if a.Error == "" && len(a.Seconds) > 0 {
			a.VsPerfScript = jfloat(ratio(float64(a.EventsPerSec), base))
			a.VsPerfScriptCPU = jfloat(ratio(ratio(float64(a.Events), float64(a.CPUMedianS)), baseCPU))
		}
	}
}

// toolLabel is the column title of a tool.
func toolLabel(tool string) string {
	switch tool {
	case toolPerf:
		return "perf record"
	case toolPerfZ:
		return "perf record -z"
	case toolKpcap:
		return "kpcap record"
	case toolKpcapBPF:
		return "kpcap record --path bpf"
	case toolKpcapBPFBase:
		return "kpcap-base record --path bpf"
	case toolKpcapSnap:
		return "kpcap record --snapshot"
	case toolBpftraceCount:
		return "bpftrace counting"
	case toolBpftracePrint:
		return "bpftrace printing"
	}
	return "untraced"
}

// Report is the whole benchmark result (the --json output).
type Report struct {
	Machine   Machine     `json:"machine"`
	Config    Config      `json:"config"`
	Workloads []*Workload `json:"workloads"`
	Targets   []Target    `json:"targets"`
	Notes     []string    `json:"notes,omitempty"`
	Errors    []string    `json:"errors,omitempty"`
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPUs         int    `json:"cpus"`
	CPUModel     string `json:"cpu_model"`
	Kernel       string `json:"kernel"`
	PerfVersion  string `json:"perf_version"`
	KpcapVersion string `json:"kpcap_version"`
	GoVersion    string `json:"go_version"`
	LoadBefore   string `json:"load_before"` // /proc/loadavg when the benchmark started
	LoadAfter    string `json:"load_after"`  // and when it ended: other work skews timings
}

// Config holds the options the benchmark ran with.
type Config struct {
	Runs        int      `json:"runs"`
	Events      int      `json:"events"`
	OpenatCalls int      `json:"openat_calls"`
	Command     string   `json:"command"`
	Tools       []string `json:"tools"`
}

// Workload is one workload's results for every tool.
type Workload struct {
	Name     string      `json:"name"`
	Calls    int         `json:"calls"`
	Events   []string    `json:"events"`          // tracepoints recorded
	Expected uint64      `json:"expected_events"` // events of the workload pid if nothing is lost
	Exact    bool        `json:"exact"`           // Expected is exact (false: the Go runtime may add a few)
	Busy     bool        `json:"busy,omitempty"`  // another process kept one CPU busy (--busy)
	Tools    []*ToolRuns `json:"tools"`
	Analysis []*Analysis `json:"analysis"`
	Profiles []*Profile  `json:"profiles,omitempty"` // with --profile
}

// Profile is a sampled CPU profile of one kpcap command (self time).
type Profile struct {
	Name    string         `json:"name"`
	Command string         `json:"command"`
	Top     []ProfileEntry `json:"top"`
	Error   string         `json:"error,omitempty"`
}

// ToolRuns is one tool's repetitions on one workload and their medians.
type ToolRuns struct {
	Tool    string  `json:"tool"`
	Label   string  `json:"label"`
	Command string  `json:"command,omitempty"`
	Runs    []*Run  `json:"runs"`
	Median  Medians `json:"median"`
}

// Run is one repetition of one tool on one workload.
type Run struct {
	Rep          int           `json:"rep"`
	WorkloadNS   int64         `json:"workload_ns"`     // wall time of the workload's loop
	WorkloadCPU  int64         `json:"workload_cpu_ns"` // CPU time of the loop's thread
	PID          int           `json:"pid"`
	RecorderCPU  float64       `json:"recorder_cpu_s,omitempty"`     // user+sys of the recorder process
	RecorderWall float64       `json:"recorder_wall_s,omitempty"`    // recorder start to exit
	RecorderRSS  int64         `json:"recorder_rss_bytes,omitempty"` // the recorder's peak RSS
	StartupS     float64       `json:"startup_s,omitempty"`          // recorder start until it was seen recording
	FileBytes    int64         `json:"file_bytes,omitempty"`
	Counts       *sampleCounts `json:"counts,omitempty"`
	InfoCount    *uint64       `json:"info_count,omitempty"` // kpcap info --json: sum of probes[].count
	InfoLost     *uint64       `json:"info_lost,omitempty"`  // kpcap info --json: sum of probes[].lost
	Verdict      string        `json:"verdict,omitempty"`    // exactness of recorded+lost vs expected
	Error        string        `json:"error,omitempty"`
}

// Medians are the medians over a tool's successful runs.
type Medians struct {
	OK               int            `json:"ok_runs"`
	WorkloadMS       jfloat         `json:"workload_ms"`
	Slowdown         jfloat         `json:"slowdown"` // workload time / untraced workload time
	WorkloadCPUMS    jfloat         `json:"workload_cpu_ms"`
	CPUSlowdown      jfloat         `json:"cpu_slowdown"`          // workload CPU time / untraced workload CPU time
	OverheadNS       jfloat         `json:"overhead_ns_per_event"` // extra workload CPU ns per expected event
	RecorderCPU      jfloat         `json:"recorder_cpu_s"`
	RecorderRSS      jfloat         `json:"recorder_rss_bytes"`
	Total            jfloat         `json:"samples_total"`
	PID              jfloat         `json:"samples_pid"`
	Duplicates       jfloat         `json:"duplicates"`
	Lost             jfloat         `json:"lost"`
	LostRuns         int            `json:"lost_runs"` // runs that lost at least one sample
	FileBytes        jfloat         `json:"file_bytes"`
	BytesPerEvent    jfloat         `json:"bytes_per_event"`
	Verdicts         map[string]int `json:"verdicts"` // runs per verdict
	RecordedPlusLost jfloat         `json:"recorded_plus_lost"`
}

// Analysis is the time one analyzer takes over one tool's trace of a workload.
type Analysis struct {
	Name            string    `json:"name"` // "perf script", "kpcap replay", ...
	Command         string    `json:"command"`
	Source          string    `json:"source"` // tool whose file it reads
	Events          uint64    `json:"events"` // samples in that file
	Seconds         []float64 `json:"seconds"`
	CPUSeconds      []float64 `json:"cpu_seconds"`
	MedianS         jfloat    `json:"median_s"`
	EventsPerSec    jfloat    `json:"events_per_s"`
	VsPerfScript    jfloat    `json:"vs_perf_script"` // events/s over perf script's events/s on the uncompressed perf file
	CPUMedianS      jfloat    `json:"cpu_median_s"`
	VsPerfScriptCPU jfloat    `json:"vs_perf_script_cpu"` // the same ratio on CPU time (robust on a busy machine; hides parallelism)
	Error           string    `json:"error,omitempty"`
}

// Target is one goal kpcap is measured against.
type Target struct {
	Workload string `json:"workload"`
	Name     string `json:"name"`
	Goal     string `json:"goal"`
	Perf     string `json:"perf"`
	Kpcap    string `json:"kpcap"`
	Pass     *bool  `json:"pass"` // nil when it could not be measured
	// Tie: the slowdowns differ by less than run-to-run noise (P is the
	// Mann-Whitney U test's p-value, over significance).
	Tie bool   `json:"tie,omitempty"`
	P   jfloat `json:"p,omitempty"`
}

// jfloat is a float64 that encodes NaN (unknown) and infinities as JSON null.
type jfloat float64

// MarshalJSON implements json.Marshaler.
func (f jfloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratio returns a/b, or NaN when either is unknown or b is 0.
func ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return a / b
}

// Verdicts of recorded+lost against the expected count.
const (
	verdictExact      = "exact"       // recorded == expected
	verdictWithinLoss = "within loss" // recorded < expected <= recorded+lost
	verdictAtLeast    = "≥ expected"  // inexact workloads: recorded >= the lower bound
	verdictMismatch   = "MISMATCH"    // samples missing without a loss report, or extra samples
)

// verdict compares recorded (unique samples of the workload pid) and lost
// (all the tracer reported lost, any pid) with the expected count, exact or a
// lower bound.
func verdict(recorded, lost, expected uint64, exact bool) string {
	switch {
	case exact && recorded == expected:
		return verdictExact
	case !exact && recorded >= expected:
		return verdictAtLeast
	case recorded < expected && recorded+lost >= expected:
		return verdictWithinLoss
	}
	return verdictMismatch
}

// verdictOrder is the order verdict counts are printed in.
var verdictOrder = []string{verdictExact, verdictAtLeast, verdictWithinLoss, verdictMismatch}

// summarize fills t.Median from t.Runs; untracedMS is the untraced median.
func summarize(t *ToolRuns, untracedNS, untracedCPU float64, expected uint64) {
	var ns, wcpu, cpu, rss, total, pid, dup, lost, bytes, bpe, rpl []float64
	m := Medians{}
	for _, r := range t.Runs {
		if r.Error != "" {
			continue
		}
		m.OK++
		ns = append(ns, float64(r.WorkloadNS))
		wcpu = append(wcpu, float64(r.WorkloadCPU))
		if t.Tool == toolUntraced {
			continue
		}
		cpu = append(cpu, r.RecorderCPU)
		rss = append(rss, float64(r.RecorderRSS))
		bytes = append(bytes, float64(r.FileBytes))
		if c := r.Counts; c != nil {
			total = append(total, float64(c.Total))
			pid = append(pid, float64(c.PID))
			dup = append(dup, float64(c.Duplicates))
			lost = append(lost, float64(c.Lost))
			rpl = append(rpl, float64(c.PID+c.Lost))
			if c.Lost > 0 {
				m.LostRuns++
			}
			if c.Total > 0 {
				bpe = append(bpe, float64(r.FileBytes)/float64(c.Total))
			}
			if m.Verdicts == nil {
				m.Verdicts = map[string]int{}
			}
			m.Verdicts[r.Verdict]++
		}
	}
	untraced := t.Tool == toolUntraced
	tracedOnly := func(v float64) jfloat {
		if untraced {
			return jfloat(math.NaN())
		}
		return jfloat(v)
	}
	m.WorkloadMS = jfloat(median(ns) / 1e6)
	m.Slowdown = jfloat(ratio(median(ns), untracedNS))
	m.WorkloadCPUMS = jfloat(median(wcpu) / 1e6)
	m.CPUSlowdown = jfloat(ratio(median(wcpu), untracedCPU))
	m.OverheadNS = jfloat(math.NaN())
	if expected > 0 && !untraced {
		// From CPU time: wall time also counts waiting for the CPU.
		m.OverheadNS = jfloat((median(wcpu) - untracedCPU) / float64(expected))
	}
	m.RecorderCPU = tracedOnly(median(cpu))
	m.RecorderRSS = tracedOnly(median(rss))
	m.Total = tracedOnly(median(total))
	m.PID = tracedOnly(median(pid))
	m.Duplicates = tracedOnly(median(dup))
	m.Lost = tracedOnly(median(lost))
	m.FileBytes = tracedOnly(median(bytes))
	m.BytesPerEvent = tracedOnly(median(bpe))
	m.RecordedPlusLost = tracedOnly(median(rpl))
	t.Median = m
}

func (w *Workload) tool(name string) *ToolRuns {
	for _, t := range w.Tools {
		if t.Tool == name {
			return t
		}
	}
	return nil
}

func (w *Workload) analysis(name string) *Analysis {
	for _, a := range w.Analysis {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// minPerf returns the smaller of f(perf) and f(perf -z), ignoring unknowns,
// and which tool it is ("" if neither is known): kpcap is compared with
// perf's best configuration.
func minPerf(w *Workload, f func(*Medians) float64) (float64, string) {
	best, tool := math.NaN(), ""
	for _, name := range []string{toolPerf, toolPerfZ} {
		if t := w.tool(name); t != nil && t.Median.OK > 0 {
			v := f(&t.Median)
			if !math.IsNaN(v) && (math.IsNaN(best) || v < best) {
				best, tool = v, name
			}
		}
	}
	return best, tool
}

// significance is the p-value under which a slowdown difference counts.
const significance = 0.05

// slowdownTarget compares kpcap's slowdown (med) with the better perf
// tool's; runVal gives the per-run values tested for a difference.
func slowdownTarget(w *Workload, name string, med func(*Medians) float64, runVal func(*Run) float64) Target {
	k := w.tool(toolKpcap)
	best, bestTool := minPerf(w, med)
	kv := med(&k.Median)
	t := target(w.Name, name, "≤ perf's", fmtX(best), fmtX(kv)+pairedNote(w, runVal, 1), kv, best, 1)
	if bestTool == "" || t.Pass == nil {
		return t
	}
	vals := func(tr *ToolRuns) []float64 {
		var xs []float64
		for _, r := range tr.Runs {
			if r.Error == "" {
				xs = append(xs, runVal(r))
			}
		}
		return xs
	}
	p := mannWhitneyP(vals(k), vals(w.tool(bestTool)))
	if math.IsNaN(p) {
		return t
	}
	t.P = jfloat(p)
	if p > significance {
		// Not significantly different: not worse, whichever median is lower.
		t.Tie = true
		ok := true
		t.Pass = &ok
	}
	return t
}

// pairedWins counts the repetitions where kpcap's run and both perf runs
// succeeded, and those where kpcap's value was at most factor times the
// better perf run's.
func pairedWins(w *Workload, f func(*Run) float64, factor float64) (wins, n int) {
	k := w.tool(toolKpcap)
	if k == nil {
		return 0, 0
	}
	for _, kr := range k.Runs {
		if kr.Error != "" {
			continue
		}
		best, ok := math.Inf(1), false
		for _, name := range []string{toolPerf, toolPerfZ} {
			if t := w.tool(name); t != nil {
				for _, pr := range t.Runs {
					if pr.Rep == kr.Rep && pr.Error == "" {
						best, ok = min(best, f(pr)), true
					}
				}
			}
		}
		if ok {
			n++
			if f(kr) <= best*factor {
				wins++
			}
		}
	}
	return wins, n
}

// pairedNote is pairedWins as a suffix for a target's kpcap column.
func pairedNote(w *Workload, f func(*Run) float64, factor float64) string {
	wins, n := pairedWins(w, f, factor)
	if n < 2 {
		return ""
	}
	return fmt.Sprintf(" (met in %d/%d paired runs)", wins, n)
}

// evaluateTargets compares kpcap with perf per workload.
func evaluateTargets(ws []*Workload) []Target {
	var out []Target
	pass := func(ok bool) *bool { return &ok }
	for _, w := range ws {
		k := w.tool(toolKpcap)
		if k == nil || k.Median.OK == 0 {
			continue
		}
		km := &k.Median
		// Slowdown: no worse than perf's best. Both tools' slowdown is the
		// same in-kernel path, so medians a few percent apart are often
		// noise: the runs decide by a Mann-Whitney U test (as benchstat
		// does), and a difference that is not significant is a tie.
		out = append(out,
			slowdownTarget(w, "workload slowdown", func(m *Medians) float64 { return float64(m.Slowdown) }, func(r *Run) float64 { return float64(r.WorkloadNS) }),
			slowdownTarget(w, "workload CPU slowdown", func(m *Medians) float64 { return float64(m.CPUSlowdown) }, func(r *Run) float64 { return float64(r.WorkloadCPU) }))
		pc, _ := minPerf(w, func(m *Medians) float64 { return float64(m.RecorderCPU) })
		out = append(out, target(w.Name, "recorder CPU", "≤ ½ perf's", fmtS(pc),
			fmtS(km.RecorderCPU)+pairedNote(w, func(r *Run) float64 { return r.RecorderCPU }, 0.5), float64(km.RecorderCPU), pc, 0.5))
		// Loss: 0 in every repetition where perf (uncompressed) lost 0.
		if p := w.tool(toolPerf); p != nil {
			cleanReps, kpcapLossy := 0, 0
			for _, pr := range p.Runs {
				if pr.Error != "" || pr.Counts == nil || pr.Counts.Lost != 0 {
					continue
				}
				for _, kr := range k.Runs {
					if kr.Rep == pr.Rep && kr.Error == "" && kr.Counts != nil {
						cleanReps++
						if kr.Counts.Lost != 0 {
							kpcapLossy++
						}
					}
				}
			}
			t := Target{Workload: w.Name, Name: "samples lost", Goal: "0 where perf lost 0",
				Perf:  fmt.Sprintf("0 lost in %d/%d runs", cleanReps, len(p.Runs)),
				Kpcap: fmt.Sprintf("lost in %d of those", kpcapLossy)}
			if cleanReps > 0 {
				t.Pass = pass(kpcapLossy == 0)
			}
			out = append(out, t)
		}
		if t, ok := bpfCostTarget(w); ok {
			out = append(out, t)
		}
		if t, ok := snapshotTarget(w); ok {
			out = append(out, t)
		}
		if z := w.tool(toolPerfZ); z != nil && z.Median.OK > 0 {
			out = append(out, target(w.Name, "bytes/event", "≤ perf -z's", fmtF(z.Median.BytesPerEvent, 1), fmtF(km.BytesPerEvent, 1), float64(km.BytesPerEvent), float64(z.Median.BytesPerEvent), 1))
		}
		for _, g := range []struct {
			name string
			min  float64
		}{{"kpcap replay", 5}, {"kpcap analyze summary", 20}} {
			ps, ka := w.analysis("perf script"), w.analysis(g.name)
			if ps == nil || ka == nil {
				continue
			}
			t := Target{Workload: w.Name, Name: g.name + " speed", Goal: fmt.Sprintf("≥ %gx perf script", g.min),
				Perf: fmtRate(ps.EventsPerSec), Kpcap: fmtRate(ka.EventsPerSec) + " (" + fmtX(ka.VsPerfScript) + ")"}
			if !math.IsNaN(float64(ka.VsPerfScript)) && ka.Error == "" && ps.Error == "" {
				t.Pass = pass(float64(ka.VsPerfScript) >= g.min)
			}
			out = append(out, t)
		}
	}
	return out
}

// bpfCostGoal is the target for the BPF path: at most half the
// in-kernel cost per event that the perf sample path adds.
const bpfCostGoal = 0.5

// bpfCostTarget compares the workload CPU time the BPF path adds per event
// with perf record's: the ratio of the medians, and its spread over the
// repetitions (each BPF run against the perf run of the same repetition,
// both less the untraced median).
func bpfCostTarget(w *Workload) (Target, bool) {
	k, p, u := w.tool(toolKpcapBPF), w.tool(toolPerf), w.tool(toolUntraced)
	if k == nil || p == nil || u == nil || k.Median.OK == 0 || p.Median.OK == 0 || w.Expected == 0 {
		return Target{}, false
	}
	kv, pv := float64(k.Median.OverheadNS), float64(p.Median.OverheadNS)
	r := ratio(kv, pv)
	lo, hi := bpfCostSpread(w)
	kpcap := fmt.Sprintf("%s ns (%s", fmtF(kv, 0), fmtX(r))
	if !math.IsNaN(lo) {
		kpcap += fmt.Sprintf(", runs %s–%s", fmtX(lo), fmtX(hi))
	}
	kpcap += ")"
	t := Target{Workload: w.Name, Name: "added workload CPU per event, BPF path", Goal: fmt.Sprintf("≤ %g× perf's", bpfCostGoal),
		Perf: fmtF(pv, 0) + " ns", Kpcap: kpcap}
	if !math.IsNaN(r) && pv > 0 {
		ok := r <= bpfCostGoal
		t.Pass = &ok
	}
	return t, true
}

// bpfCostSpread returns the smallest and largest per-repetition ratio of
// the BPF path's added CPU per event to perf record's (NaN without two
// paired runs).
func bpfCostSpread(w *Workload) (lo, hi float64) {
	lo, hi = math.NaN(), math.NaN()
	u := w.tool(toolUntraced)
	if u == nil || !(u.Median.OK > 0) || w.Expected == 0 {
		return
	}
	base := float64(u.Median.WorkloadCPUMS) * 1e6
	added := func(r *Run) float64 { return (float64(r.WorkloadCPU) - base) / float64(w.Expected) }
	n := 0
	for _, kr := range w.tool(toolKpcapBPF).Runs {
		for _, pr := range w.tool(toolPerf).Runs {
			if kr.Error != "" || pr.Error != "" || kr.Rep != pr.Rep {
				continue
			}
			pa := added(pr)
			if pa <= 0 {
				continue
			}
			v := added(kr) / pa
			if n == 0 || v < lo {
				lo = v
			}
			if n == 0 || v > hi {
				hi = v
			}
			n++
		}
	}
	if n < 2 {
		return math.NaN(), math.NaN()
	}
	return lo, hi
}

// target builds a "kpcap <= factor*perf" target.
func target(workload, name, goal, perf, kpcap string, k, p, factor float64) Target {
	t := Target{Workload: workload, Name: name, Goal: goal, Perf: perf, Kpcap: kpcap}
	if !math.IsNaN(k) && !math.IsNaN(p) {
		ok := k <= p*factor
		t.Pass = &ok
	}
	return t
}

func fmtF[T ~float64](x T, prec int) string {
	v := float64(x)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

func fmtX[T ~float64](x T) string {
	v := float64(x)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	if v >= 10 {
		return fmt.Sprintf("%.0fx", v)
	}
	return fmt.Sprintf("%.2fx", v)
}

func fmtS[T ~float64](x T) string {
	v := float64(x)
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.2f s", v)
}

// fmtCount prints an integer count with thousands separators.
func fmtCount[T ~float64](x T) string {
	v := float64(x)
	if math.IsNaN(v) {
		return "–"
	}
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtRate prints events/s as "785k ev/s" or "12.3M ev/s".
func fmtRate[T ~float64](x T) string {
	v := float64(x)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case v >= 1e6:
		return fmt.Sprintf("%.1fM ev/s", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk ev/s", v/1e3)
	}
	return fmt.Sprintf("%.0f ev/s", v)
}

func passMark(p *bool) string {
	switch {
	case p == nil:
		return "n/a"
	case *p:
		return "✅ pass"
	}
	return "❌ miss"
}

// writeMarkdown renders r as the human tables.
func writeMarkdown(out io.Writer, r *Report) {
	m := r.Machine
	fmt.Fprintf(out, "Machine: %d CPUs, %s, kernel %s, %s, %s, %s\n\n", m.CPUs, m.CPUModel, m.Kernel, m.PerfVersion, m.KpcapVersion, m.GoVersion)
	if m.LoadBefore != "" {
		fmt.Fprintf(out, "Load average (1, 5, 15 min) before: %s, after: %s", m.LoadBefore, m.LoadAfter)
		if busy(m.LoadBefore, m.CPUs) || busy(m.LoadAfter, m.CPUs) {
			fmt.Fprint(out, " (**busy machine: other work competed for the CPUs, timings are noisy**)")
		}
		fmt.Fprint(out, "\n\n")
	}
	fmt.Fprintf(out, "Command: `%s` (medians of %d runs, tools alternated in each run, in a rotating order)\n", r.Config.Command, r.Config.Runs)
	for _, w := range r.Workloads {
		fmt.Fprintf(out, "\n### %s: %s calls, events %s, system-wide\n\n", w.Name, fmtCount(float64(w.Calls)), strings.Join(w.Events, ","))
		var head, sep strings.Builder
		head.WriteString("| |")
		sep.WriteString("|---|")
		for _, t := range w.Tools {
			fmt.Fprintf(&head, " %s |", t.Label)
			sep.WriteString("---:|")
		}
		fmt.Fprintln(out, head.String())
		fmt.Fprintln(out, sep.String())
		row := func(name string, f func(t *ToolRuns) string) {
			var b strings.Builder
			fmt.Fprintf(&b, "| %s |", name)
			for _, t := range w.Tools {
				v := "–"
				if t.Median.OK > 0 {
					v = f(t)
				}
				fmt.Fprintf(&b, " %s |", v)
			}
			fmt.Fprintln(out, b.String())
		}
		traced := func(f func(t *ToolRuns) string) func(t *ToolRuns) string {
			return func(t *ToolRuns) string {
				if t.Tool == toolUntraced {
					return "–"
				}
				return f(t)
			}
		}
		row("successful runs", func(t *ToolRuns) string { return fmt.Sprintf("%d/%d", t.Median.OK, len(t.Runs)) })
		row("workload wall time", func(t *ToolRuns) string { return fmtF(t.Median.WorkloadMS, 0) + " ms" })
		row("workload slowdown", func(t *ToolRuns) string { return fmtX(t.Median.Slowdown) })
		row("workload thread CPU time", func(t *ToolRuns) string { return fmtF(t.Median.WorkloadCPUMS, 0) + " ms" })
		row("workload CPU slowdown", func(t *ToolRuns) string { return fmtX(t.Median.CPUSlowdown) })
		row("added workload CPU ns per event", traced(func(t *ToolRuns) string { return fmtF(t.Median.OverheadNS, 0) }))
		row("recorder CPU (user+sys)", traced(func(t *ToolRuns) string { return fmtS(t.Median.RecorderCPU) }))
		row("recorder peak RSS", traced(func(t *ToolRuns) string { return fmtF(t.Median.RecorderRSS/(1<<20), 1) + " MiB" }))
		row(fmt.Sprintf("samples of the workload pid (expected %s%s)", map[bool]string{true: "", false: "≥ "}[w.Exact], fmtCount(float64(w.Expected))),
			traced(func(t *ToolRuns) string { return fmtCount(t.Median.PID) }))
		row("samples in file (all pids)", traced(func(t *ToolRuns) string { return fmtCount(t.Median.Total) }))
		row("duplicate samples", traced(func(t *ToolRuns) string { return fmtCount(t.Median.Duplicates) }))
		row("samples lost", traced(func(t *ToolRuns) string { return fmtCount(t.Median.Lost) }))
		row("runs with loss", traced(func(t *ToolRuns) string { return fmt.Sprintf("%d/%d", t.Median.LostRuns, t.Median.OK) }))
		row("recorded + lost vs expected", traced(func(t *ToolRuns) string {
			var parts []string
			for _, v := range verdictOrder {
				if n := t.Median.Verdicts[v]; n > 0 {
					s := fmt.Sprintf("%d %s", n, v)
					if v == verdictMismatch {
						s = "**" + s + "**"
					}
					parts = append(parts, s)
				}
			}
			return strings.Join(parts, ", ")
		}))
		row("file size", traced(func(t *ToolRuns) string { return fmtF(t.Median.FileBytes/1e6, 1) + " MB" }))
		row("bytes per event", traced(func(t *ToolRuns) string { return fmtF(t.Median.BytesPerEvent, 1) }))
		if len(w.Analysis) > 0 {
			fmt.Fprintf(out, "\nAnalysis of the %s traces (output to /dev/null):\n\n", w.Name)
			fmt.Fprintln(out, "| analysis | reads | events | wall time | events/s | vs perf script | CPU time | vs perf script (CPU) |")
			fmt.Fprintln(out, "|---|---|---:|---:|---:|---:|---:|---:|")
			for _, a := range w.Analysis {
				if a.Error != "" {
					fmt.Fprintf(out, "| %s | %s | %s | failed: %s | – | – | – | – |\n", a.Name, a.Source, fmtCount(float64(a.Events)), oneLine(a.Error))
					continue
				}
				fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", a.Name, a.Source, fmtCount(float64(a.Events)),
					fmtS(a.MedianS), fmtRate(a.EventsPerSec), fmtX(a.VsPerfScript), fmtS(a.CPUMedianS), fmtX(a.VsPerfScriptCPU))
			}
		}
	}
	for _, w := range r.Workloads {
		for _, p := range w.Profiles {
			if p.Error != "" {
				continue
			}
			fmt.Fprintf(out, "\nProfile of %s on the %s workload (`%s`), self time:\n\n", p.Name, w.Name, p.Command)
			fmt.Fprintln(out, "| % | object | symbol |")
			fmt.Fprintln(out, "|---:|---|---|")
			for _, e := range p.Top {
				fmt.Fprintf(out, "| %.1f | %s | `%s` |\n", e.Percent, e.Object, strings.ReplaceAll(e.Symbol, "|", "\\|"))
			}
		}
	}
	if len(r.Targets) > 0 {
		fmt.Fprint(out, "\n### Targets\n\n")
		fmt.Fprintln(out, "| workload | measure | goal | perf | kpcap | result |")
		fmt.Fprintln(out, "|---|---|---|---:|---:|---|")
		for _, t := range r.Targets {
			mark := passMark(t.Pass)
			switch {
			case t.Tie:
				mark = fmt.Sprintf("✅ tie (no significant difference, p = %.2f)", float64(t.P))
			case t.P != 0:
				mark += fmt.Sprintf(" (p = %.3f)", float64(t.P))
			}
			fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s |\n", t.Workload, t.Name, t.Goal, t.Perf, t.Kpcap, mark)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprint(out, "\n### Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(out, "- %s\n", oneLine(n))
		}
	}
	if len(r.Errors) > 0 {
		fmt.Fprint(out, "\n### Errors\n\n")
		for _, e := range r.Errors {
			fmt.Fprintf(out, "- %s\n", oneLine(e))
		}
	}
}

// busy reports whether a load average line says more runnable work than CPUs.
func busy(load string, cpus int) bool {
	f := strings.Fields(load)
	if len(f) == 0 || cpus <= 0 {
		return false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return err == nil && v > float64(cpus)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}
