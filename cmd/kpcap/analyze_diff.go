package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/analyze/flame"
	"github.com/kpcap/kpcap/format"
)

// analyzeDiff runs kpcap analyze diff: two traces, or two groups (--a, --b).
func analyzeDiff(args []string) error {
	fs := subFlags("diff")
	co := addCommon(fs)
	lo := latencyFlags(fs)
	jsonOut := fs.Bool("json", false, "print JSON")
	svg := fs.String("svg", "", "write a differential flame graph to `FILE` (red grew, blue shrank; - is stdout)")
	alpha := fs.Float64("alpha", 0.01, "significance level for flagging latency changes")
	top := fs.Int("top", 30, "stack changes to list")
	groupA := fs.StringArray("a", nil, "group A (before): trace `FILE` or glob, repeatable; compares hosts with --b")
	groupB := fs.StringArray("b", nil, "group B (after): trace `FILE` or glob, repeatable")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if *alpha <= 0 || *alpha >= 1 {
		return usagef("--alpha must be between 0 and 1")
	}
	if (len(lo.Start) > 0) != (len(lo.End) > 0) {
		return usagef("--start and --end go together")
	}
	if len(*groupA) > 0 || len(*groupB) > 0 {
		if len(*groupA) == 0 || len(*groupB) == 0 || fs.NArg() > 0 {
			return usagef("a group comparison takes --a PATTERN... and --b PATTERN... and no other trace arguments")
		}
		if *svg != "" {
			return usagef("--svg compares two traces, not groups")
		}
		return analyzeGroupDiff(*groupA, *groupB, co, *lo, *alpha, *top, *jsonOut)
	}
	if fs.NArg() != 2 {
		return usagef("want two trace files A B (or --a and --b groups), got %d file arguments", fs.NArg())
	}
	files := fs.Args()
	var ta [2]*analyze.TraceAnalysis
	for i, f := range files {
		in, err := openInput([]string{f}, co)
		if err != nil {
			return err
		}
		ta[i], err = analyze.Analyze(in, analyze.SummaryOptions{}, *lo)
		in.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		ta[i].Summary.File = f
	}
	d := analyze.Compare(files[0], ta[0], files[1], ta[1], analyze.DiffOptions{Alpha: *alpha, TopStacks: *top})
	if d.LossMismatch && !*jsonOut {
		// Loud on stderr too, in case stdout goes to a file.
		fmt.Fprintln(os.Stderr, "kpcap analyze diff: "+terminalSafe(d.Warnings[0]))
	}
	if *svg != "" {
		a, b := d.FlameProfiles()
		sub := fmt.Sprintf("A %s (kernel %s, %d lost) → B %s (kernel %s, %d lost); width = larger share, red = grew, blue = shrank",
			filepath.Base(files[0]), d.A.Kernel, d.A.Lost, filepath.Base(files[1]), d.B.Kernel, d.B.Lost)
		if d.LossMismatch {
			sub = "WARNING: different loss. " + sub
		}
		if err := writeOutput(*svg, func(w io.Writer) error {
			return flame.WriteDiffSVG(w, a, b, flame.SVGOptions{Title: "Differential flame graph", Subtitle: sub, Standalone: true})
		}); err != nil {
			return err
		}
	}
	return printResult(*jsonOut, d, func(w io.Writer) error { return analyze.WriteDiffText(w, d) })
}

// analyzeGroupDiff compares two groups of traces host by host.
func analyzeGroupDiff(pa, pb []string, co *commonOpts, lo analyze.LatencyOptions, alpha float64, top int, jsonOut bool) error {
	var groups [2]*analyze.GroupCollector
	for i, pats := range [][]string{pa, pb} {
		paths, err := expandTraceArgs(pats)
		if err != nil {
			return err
		}
		files, err := format.GroupTraces(paths)
		if err != nil {
			return err
		}
		g := analyze.NewGroupCollector(0)
		per := analyze.PerTraceOptions(lo)
		per.By = ""
		per.Budget = fleetLatencyBudget(len(files))
		name := "kpcap analyze diff --" + string(rune('a'+i))
		err = forEachTrace(files, co, name, func(in *progressInput) (any, error) {
			return analyze.Analyze(in, analyze.SummaryOptions{TopN: 1, MaxBuckets: 1}, per)
		}, func(r traceResult) error {
			g.AddAnalysis(r.meta, r.v.(*analyze.TraceAnalysis))
			return nil
		})
		if err != nil {
			return err
		}
		groups[i] = g
	}
	d := analyze.CompareGroups(groups[0], groups[1], alpha, top)
	return printResult(jsonOut, d, func(w io.Writer) error { return analyze.WriteGroupDiffText(w, d) })
}
