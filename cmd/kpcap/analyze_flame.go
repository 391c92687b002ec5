package main

import (
	"fmt"

	"github.com/kpcap/kpcap/analyze"
)

// analyzeFlame runs kpcap analyze flame.
func analyzeFlame(args []string) error {
	fs := subFlags("flame")
	co := addCommon(fs)
	lo := latencyFlags(fs)
	weight := fs.String("weight", "samples", "weigh stacks by `samples`, by their `period` (a counted tracepoint's count, e.g. sched_stat_runtime's ns) or by paired `latency` (entry stack × duration)")
	folded := fs.StringP("output", "o", "", "write folded stacks to `FILE` (default stdout unless --svg or --pprof)")
	svg := fs.String("svg", "", "write an interactive flame graph to `FILE` (- is stdout)")
	pprofOut := fs.String("pprof", "", "write a gzipped profile.proto to `FILE` (go tool pprof; - is stdout)")
	title := fs.String("title", "", "flame graph `TITLE`")
	noComm := fs.Bool("no-comm", false, "leave out the command-name root frame")
	by := fs.String("by", "", "with several traces: a root frame per `kernel|host|arch|trace`")
	files, err := parseFiles(fs, args, "one or more trace FILEs")
	if err != nil {
		return err
	}
	if *by != "" && !analyze.IsMetaKey(*by) {
		return usagef("--by %q: want kernel, host, arch or trace", *by)
	}
	if *weight != "samples" && *weight != "period" && *weight != "latency" {
		return usagef("--weight %q: want samples, period or latency", *weight)
	}
	if (len(lo.Start) > 0 || lo.Key != "") && *weight != "latency" {
		return usagef("--start/--end/--key apply to --weight latency")
	}
	if *folded == "" && *svg == "" && *pprofOut == "" {
		*folded = "-"
	}
	fo := analyze.FlameOptions{Weight: *weight, Latency: *lo, NoComm: *noComm}
	var fl *analyze.Flame
	label := tracesLabel(files)
	if multiTrace(files, *by) {
		if fl, err = fleetFlame(files, co, *by, fo); err != nil {
			return err
		}
	} else {
		in, err := openInput(files[0], co)
		if err != nil {
			return err
		}
		defer in.Close()
		fl, err = analyze.BuildFlame(in, fo)
		in.finishProgress() // before anything else is printed
		if err != nil {
			return fmt.Errorf("%s: %w", traceName(files[0]), err)
		}
	}
	flameNotes(fl, label, co.quiet)
	if *folded != "" {
		if err := writeOutput(*folded, fl.Profile.WriteFolded); err != nil {
			return err
		}
	}
	if *svg != "" {
		if err := writeFlameSVG(*svg, fl, *title, label, *weight); err != nil {
			return err
		}
	}
	if *pprofOut != "" {
		if err := writeFlamePprof(*pprofOut, fl, label, *weight); err != nil {
			return err
		}
	}
	return nil
}
