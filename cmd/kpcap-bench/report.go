package main

import (
	"math"
	"strconv"
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
		return "kpcap record --path perf"
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
