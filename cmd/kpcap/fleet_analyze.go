package main

import (
	"fmt"
	"io"
	"time"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/analyze/report"
)

// multiTrace reports whether an analysis of traces (each one file or the
// files of one set) split by by reads them as a fleet rather than one trace.
func multiTrace(files [][]string, by string) bool {
	return len(files) > 1 || analyze.IsMetaKey(by)
}

// analyzeFleetSummary summarizes many traces on all cores: per trace, per
// group of traces (by) and in all.
func analyzeFleetSummary(files [][]string, co *commonOpts, top int, by string, jsonOut bool) error {
	m := analyze.NewSummaryMerger(by, top)
	so := analyze.FleetSummaryOptions(top)
	err := forEachTrace(files, co, "kpcap analyze summary", func(in *progressInput) (any, error) {
		return analyze.Summarize(in, so)
	}, func(r traceResult) error {
		m.Add(r.meta, r.v.(*analyze.Summary))
		return nil
	})
	if err != nil {
		return err
	}
	fs := m.Result()
	return printResult(jsonOut, fs, func(w io.Writer) error { return analyze.WriteFleetSummaryText(w, fs) })
}

// fleetFlame builds one profile of many traces on all cores, under a root
// frame per group when by is a metadata key.
func fleetFlame(files [][]string, co *commonOpts, by string, o analyze.FlameOptions) (*analyze.Flame, error) {
	m := analyze.NewFlameMerger(by, o)
	per := o
	per.Latency = analyze.PerTraceOptions(o.Latency)
	per.Latency.Budget = fleetLatencyBudget(len(files))
	err := forEachTrace(files, co, "kpcap analyze flame", func(in *progressInput) (any, error) {
		return analyze.BuildFlame(in, per)
	}, func(r traceResult) error {
		m.Add(r.meta, r.v.(*analyze.Flame))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m.Result(), nil
}

// fleetReportData analyzes many traces for one report: the fleet summary,
// latency split by by (a metadata key or a per-trace split) and the flame
// graph under a root frame per group.
func fleetReportData(files [][]string, co *commonOpts, by string, lo analyze.LatencyOptions) (*analyze.FleetSummary, *analyze.Latency, *analyze.Flame, error) {
	const top = 10
	meta := by
	if !analyze.IsMetaKey(by) {
		meta = ""
	}
	sm := analyze.NewSummaryMerger(meta, top)
	lo.By = by
	lm := analyze.NewLatencyMerger(lo)
	fm := analyze.NewFlameMerger(meta, analyze.FlameOptions{Weight: "samples"})
	per := analyze.PerTraceOptions(lo)
	per.Budget = fleetLatencyBudget(len(files))
	err := forEachTrace(files, co, "kpcap analyze report", func(in *progressInput) (any, error) {
		return analyze.Analyze(in, analyze.FleetSummaryOptions(top), per)
	}, func(r traceResult) error {
		ta := r.v.(*analyze.TraceAnalysis)
		sm.Add(r.meta, ta.Summary)
		lm.Add(r.meta, ta.Latency)
		fm.Add(r.meta, ta.Flame)
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return sm.Result(), lm.Result(), fm.Result(), nil
}

// tracesLabel names the input of a multi-trace analysis in titles and
// messages.
func tracesLabel(files [][]string) string {
	if len(files) == 1 {
		return traceName(files[0])
	}
	return fmt.Sprintf("%d traces", len(files))
}

// fleetReport writes one HTML report of many traces.
func fleetReport(files [][]string, co *commonOpts, lo analyze.LatencyOptions, out, title string) error {
	fs, l, fl, err := fleetReportData(files, co, lo.By, lo)
	if err != nil {
		return err
	}
	if title == "" {
		title = fmt.Sprintf("kpcap report: %d traces", len(files))
		if lo.By != "" {
			title += " by " + lo.By
		}
	}
	return writeOutput(out, func(w io.Writer) error {
		return report.Write(w, &report.Data{Title: title, Generated: time.Now(), Summary: fs.Total, Latency: l, Flame: fl, Fleet: fs})
	})
}
