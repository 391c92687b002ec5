package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/analyze/flame"
)

// flameNotes prints on stderr what a flame graph of label leaves out: the
// analysis's warnings, stacks missing (unless quiet), lost samples and
// unmatched pairs.
func flameNotes(fl *analyze.Flame, label string, quiet bool) {
	for _, w := range fl.Warnings {
		fmt.Fprintf(os.Stderr, "kpcap analyze flame: %s: warning: %s\n", terminalSafe(label), terminalSafe(w))
	}
	// A trace without stacks is not an error, so -q keeps this note quiet.
	if fl.Events > 0 && fl.NoStack == fl.Events && !quiet {
		fmt.Fprintf(os.Stderr, "kpcap analyze flame: %s: no event carries a call stack (record with -g); frames are the sources\n", terminalSafe(label))
	}
	if fl.Lost.Total > 0 || (fl.Latency != nil && fl.Latency.UnmatchedEntries+fl.Latency.UnmatchedReturns > 0) {
		msg := fmt.Sprintf("kpcap analyze flame: %s: %d samples lost", label, fl.Lost.Total)
		if fl.Latency != nil {
			msg += fmt.Sprintf("; unmatched %d entries, %d returns", fl.Latency.UnmatchedEntries, fl.Latency.UnmatchedReturns)
		}
		fmt.Fprintln(os.Stderr, msg)
	}
}

// writeFlameSVG writes fl's interactive flame graph to path, titled title
// (default: after label and weight).
func writeFlameSVG(path string, fl *analyze.Flame, title, label, weight string) error {
	t := title
	if t == "" {
		t = "Flame graph: " + filepath.Base(label)
		if weight == "latency" {
			t = "Latency flame graph: " + filepath.Base(label)
		}
	}
	sub := fmt.Sprintf("%d %s weighed, %d without a stack; %d samples lost", fl.Events, map[bool]string{true: "pairs", false: "events"}[weight == "latency"], fl.NoStack, fl.Lost.Total)
	if fl.Latency != nil {
		sub += fmt.Sprintf("; unmatched %d entries, %d returns", fl.Latency.UnmatchedEntries, fl.Latency.UnmatchedReturns)
	}
	return writeOutput(path, func(w io.Writer) error {
		return flame.WriteSVG(w, fl.Profile, flame.SVGOptions{Title: t, Subtitle: sub, Standalone: true})
	})
}

// writeFlamePprof writes fl as a gzipped profile.proto to path, its sample
// type after weight.
func writeFlamePprof(path string, fl *analyze.Flame, label, weight string) error {
	po := flame.PprofOptions{DurationNS: int64(fl.DurationNS),
		Comments: []string{fmt.Sprintf("kpcap: %s, %d samples lost", label, fl.Lost.Total)}}
	switch weight {
	case "latency":
		po.SampleType, po.Unit = "latency", "nanoseconds"
	case "period":
		po.SampleType, po.Unit = "period", "count"
	}
	return writeOutput(path, func(w io.Writer) error {
		return flame.WritePprof(w, fl.Profile, po)
	})
}
