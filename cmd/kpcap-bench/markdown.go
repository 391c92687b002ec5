package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// fmtF formats x with prec decimals, a dash for NaN and infinities.
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
	writeMachine(out, r)
	for _, w := range r.Workloads {
		fmt.Fprintf(out, "\n### %s: %s calls, events %s, system-wide\n\n", w.Name, fmtCount(float64(w.Calls)), strings.Join(w.Events, ","))
		writeToolTable(out, w)
		writeAnalysisTable(out, w)
	}
	for _, w := range r.Workloads {
		writeProfiles(out, w)
	}
	writeTargets(out, r.Targets)
	writeList(out, "Notes", r.Notes)
	writeList(out, "Errors", r.Errors)
}

// writeMachine writes the machine, its load and the command line.
func writeMachine(out io.Writer, r *Report) {
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
}

// toolTable writes the rows of one workload's table, a column per tool.
type toolTable struct {
	out io.Writer
	w   *Workload
}

// row writes one row; a tool without a successful run shows a dash.
func (tt toolTable) row(name string, f func(t *ToolRuns) string) {
	var b strings.Builder
	fmt.Fprintf(&b, "| %s |", name)
	for _, t := range tt.w.Tools {
		v := "–"
		if t.Median.OK > 0 {
			v = f(t)
		}
		fmt.Fprintf(&b, " %s |", v)
	}
	fmt.Fprintln(tt.out, b.String())
}

// traced shows a dash in the untraced column.
func traced(f func(t *ToolRuns) string) func(t *ToolRuns) string {
	return func(t *ToolRuns) string {
		if t.Tool == toolUntraced {
			return "–"
		}
		return f(t)
	}
}

// writeToolTable writes a workload's table of medians, a column per tool.
func writeToolTable(out io.Writer, w *Workload) {
	var head, sep strings.Builder
	head.WriteString("| |")
	sep.WriteString("|---|")
	for _, t := range w.Tools {
		fmt.Fprintf(&head, " %s |", t.Label)
		sep.WriteString("---:|")
	}
	fmt.Fprintln(out, head.String())
	fmt.Fprintln(out, sep.String())
	tt := toolTable{out: out, w: w}
	tt.row("successful runs", func(t *ToolRuns) string { return fmt.Sprintf("%d/%d", t.Median.OK, len(t.Runs)) })
	tt.row("workload wall time", func(t *ToolRuns) string { return fmtF(t.Median.WorkloadMS, 0) + " ms" })
	tt.row("workload slowdown", func(t *ToolRuns) string { return fmtX(t.Median.Slowdown) })
	tt.row("workload thread CPU time", func(t *ToolRuns) string { return fmtF(t.Median.WorkloadCPUMS, 0) + " ms" })
	tt.row("workload CPU slowdown", func(t *ToolRuns) string { return fmtX(t.Median.CPUSlowdown) })
	tt.row("added workload CPU ns per event", traced(func(t *ToolRuns) string { return fmtF(t.Median.OverheadNS, 0) }))
	tt.row("recorder CPU (user+sys)", traced(func(t *ToolRuns) string { return fmtS(t.Median.RecorderCPU) }))
	tt.row("recorder peak RSS", traced(func(t *ToolRuns) string { return fmtF(t.Median.RecorderRSS/(1<<20), 1) + " MiB" }))
	tt.row(fmt.Sprintf("samples of the workload pid (expected %s%s)", map[bool]string{true: "", false: "≥ "}[w.Exact], fmtCount(float64(w.Expected))),
		traced(func(t *ToolRuns) string { return fmtCount(t.Median.PID) }))
	tt.row("samples in file (all pids)", traced(func(t *ToolRuns) string { return fmtCount(t.Median.Total) }))
	tt.row("duplicate samples", traced(func(t *ToolRuns) string { return fmtCount(t.Median.Duplicates) }))
	tt.row("samples lost", traced(func(t *ToolRuns) string { return fmtCount(t.Median.Lost) }))
	tt.row("runs with loss", traced(func(t *ToolRuns) string { return fmt.Sprintf("%d/%d", t.Median.LostRuns, t.Median.OK) }))
	tt.row("recorded + lost vs expected", traced(verdictCell))
	tt.row("file size", traced(func(t *ToolRuns) string { return fmtF(t.Median.FileBytes/1e6, 1) + " MB" }))
	tt.row("bytes per event", traced(func(t *ToolRuns) string { return fmtF(t.Median.BytesPerEvent, 1) }))
}

// verdictCell lists how many runs took each verdict, a mismatch in bold.
func verdictCell(t *ToolRuns) string {
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
}

// writeAnalysisTable writes the timings of the analyses of a workload's traces.
func writeAnalysisTable(out io.Writer, w *Workload) {
	if len(w.Analysis) == 0 {
		return
	}
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

// writeProfiles writes the top symbols of each profile of a workload.
func writeProfiles(out io.Writer, w *Workload) {
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

// writeTargets writes the targets table and each target's result.
func writeTargets(out io.Writer, targets []Target) {
	if len(targets) == 0 {
		return
	}
	fmt.Fprint(out, "\n### Targets\n\n")
	fmt.Fprintln(out, "| workload | measure | goal | perf | kpcap | result |")
	fmt.Fprintln(out, "|---|---|---|---:|---:|---|")
	for _, t := range targets {
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

// writeList writes a titled bullet list, nothing when it is empty.
func writeList(out io.Writer, title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(out, "\n### %s\n\n", title)
	for _, s := range items {
		fmt.Fprintf(out, "- %s\n", oneLine(s))
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

// oneLine folds s to one table-safe line of at most 300 bytes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}
