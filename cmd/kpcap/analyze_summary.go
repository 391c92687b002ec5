package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/kpcap/kpcap/analyze"
)

// analyzeSummary runs kpcap analyze summary.
func analyzeSummary(args []string) error {
	fs := subFlags("summary")
	co := addCommon(fs)
	top := fs.Int("top", 10, "rows in the command, process and value tables")
	buckets := fs.Int("buckets", 60, "time buckets of the rate")
	by := fs.String("by", "", "with several traces: totals per `kernel|host|arch|trace`")
	jsonOut := fs.Bool("json", false, "print JSON")
	files, err := parseFiles(fs, args, "one or more trace FILEs")
	if err != nil {
		return err
	}
	if *top <= 0 || *buckets <= 0 {
		return usagef("--top and --buckets must be positive")
	}
	if *by != "" && !analyze.IsMetaKey(*by) {
		return usagef("--by %q: want kernel, host, arch or trace", *by)
	}
	if multiTrace(files, *by) {
		return analyzeFleetSummary(files, co, *top, *by, *jsonOut)
	}
	// The summary's fast path allocates little beyond start-up: the first
	// collection, at the default 4 MiB heap, would cost it a noticeable
	// share of its CPU time. GOGC=200 moves it to 8 MiB (and the batch path's memory grows
	// less than that). An explicit GOGC wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	in, err := openInput(files[0], co)
	if err != nil {
		return err
	}
	defer in.Close()
	s, err := analyze.Summarize(in, analyze.SummaryOptions{TopN: *top, MaxBuckets: *buckets})
	in.finishProgress() // before anything else is printed
	if err != nil {
		return fmt.Errorf("%s: %w", traceName(files[0]), err)
	}
	s.File = traceName(files[0])
	return printResult(*jsonOut, s, func(w io.Writer) error { return analyze.WriteSummaryText(w, s, isTerminal(os.Stdout)) })
}
