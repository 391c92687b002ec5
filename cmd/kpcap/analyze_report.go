package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/analyze/report"
)

// analyzeReport runs kpcap analyze report: one trace's report, or a
// fleet's.
func analyzeReport(args []string) error {
	fs := subFlags("report")
	co := addCommon(fs)
	lo := latencyFlags(fs)
	out := fs.StringP("output", "o", "", "write the HTML report to `FILE` (required; - is stdout)")
	title := fs.String("title", "", "report `TITLE`")
	lanes := fs.Int("timeline-lanes", analyze.DefaultTimelineThreads, "give the `N` busiest threads a timeline lane each; the rest share one")
	items := fs.Int("timeline-items", analyze.DefaultTimelineItems, "embed at most `N` individual timeline events (pairs and instants); density buckets show the rest")
	fs.StringVar(&lo.By, "by", "", "with several traces: split latency and the flame graph by `kernel|host|arch|trace` (latency also by comm|pid|tid|cpu|cgroup|FIELD)")
	files, err := parseFiles(fs, args, "one or more trace FILEs")
	if err != nil {
		return err
	}
	if *out == "" {
		return usagef("missing -o FILE for the HTML report")
	}
	if *lanes < 1 || *items < 1 {
		return usagef("--timeline-lanes and --timeline-items must be at least 1")
	}
	if multiTrace(files, lo.By) {
		return fleetReport(files, co, *lo, *out, *title)
	}
	in, err := openInput(files[0], co)
	if err != nil {
		return err
	}
	defer in.Close()
	ta, err := analyze.AnalyzeTimeline(in, analyze.SummaryOptions{}, *lo, analyze.TimelineOptions{ThreadLanes: *lanes, MaxItems: *items})
	in.finishProgress() // before anything else is printed
	if err != nil {
		return fmt.Errorf("%s: %w", traceName(files[0]), err)
	}
	ta.Summary.File = traceName(files[0])
	t := *title
	if t == "" {
		t = "kpcap report: " + filepath.Base(traceName(files[0]))
		host := ta.Summary.Host.Hostname
		if host == "(none)" {
			host = ""
		}
		if k := strings.TrimSpace(host + " " + ta.Summary.Host.Kernel); k != "" {
			t += " (" + k + ")"
		}
	}
	return writeOutput(*out, func(w io.Writer) error {
		return report.Write(w, &report.Data{Title: t, Generated: time.Now(), Summary: ta.Summary, Latency: ta.Latency, Flame: ta.Flame, Timeline: ta.Timeline})
	})
}
