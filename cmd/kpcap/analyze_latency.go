package main

import (
	"fmt"
	"io"

	"github.com/kpcap/kpcap/analyze"
)

// unitFlag maps the --unit names to nanoseconds.
var unitFlag = map[string]uint64{"ns": 1, "nsecs": 1, "us": 1000, "usecs": 1000, "ms": 1_000_000, "msecs": 1_000_000, "s": 1_000_000_000, "secs": 1_000_000_000}

// analyzeLatency runs kpcap analyze latency: one trace, or many merged.
func analyzeLatency(args []string) error {
	fs := subFlags("latency")
	co := addCommon(fs)
	lo := latencyFlags(fs)
	fs.StringVar(&lo.By, "by", "", "split by `kernel|host|arch|trace` (trace metadata) or comm|pid|tid|cpu|cgroup|FIELD (of the entry event)")
	unit := fs.String("unit", "us", "histogram `UNIT`: ns, us, ms or s")
	jsonOut := fs.Bool("json", false, "print JSON")
	files, err := parseFiles(fs, args, "one or more trace FILEs")
	if err != nil {
		return err
	}
	u, ok := unitFlag[*unit]
	if !ok {
		return usagef("--unit %q: want ns, us, ms or s", *unit)
	}
	lo.UnitNS = u
	if (len(lo.Start) > 0) != (len(lo.End) > 0) {
		return usagef("--start and --end go together")
	}
	if lo.Key != "" && len(lo.Start) == 0 {
		return usagef("--key needs --start and --end")
	}
	var l *analyze.Latency
	if len(files) == 1 && !analyze.IsMetaKey(lo.By) {
		in, err := openInput(files[0], co)
		if err != nil {
			return err
		}
		defer in.Close()
		l, err = analyze.MeasureLatency(in, *lo)
		in.finishProgress() // before anything else is printed
		if err != nil {
			return fmt.Errorf("%s: %w", traceName(files[0]), err)
		}
	} else {
		m := analyze.NewLatencyMerger(*lo)
		per := analyze.PerTraceOptions(*lo)
		per.Budget = fleetLatencyBudget(len(files))
		err := forEachTrace(files, co, "kpcap analyze latency", func(in *progressInput) (any, error) {
			return analyze.MeasureLatency(in, per)
		}, func(r traceResult) error {
			m.Add(r.meta, r.v.(*analyze.Latency))
			return nil
		})
		if err != nil {
			return err
		}
		l = m.Result()
	}
	return printResult(*jsonOut, l, func(w io.Writer) error { return analyze.WriteLatencyText(w, l) })
}
