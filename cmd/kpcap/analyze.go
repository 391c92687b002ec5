package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/format"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "analyze",
		summary: "summaries, latency histograms, flame graphs, diffs and HTML reports of traces",
		usage:   analyzeUsage,
		run:     runAnalyze,
	})
}

const analyzeUsage = `Usage: kpcap analyze SUBCOMMAND [options] FILE...

Analyze trace files offline, on any machine: everything (symbols, event
formats, command names) comes from the file. A trace is one file or the
files of one rotated recording (kpcap record --rotate), given as files, a
quoted glob or their directory: files sharing a set id are read as one
trace in time order, with missing files stated as gaps. Each subcommand
reads a trace once, streaming, in bounded memory. Several traces (files of
different recordings) are a fleet, read on all cores, one trace per CPU at
once. Lost samples
and unmatched entry/return events are always reported.

Subcommands:
  summary FILE...      events per source, CPU, command and process; rate over
                       time; loss per CPU and time window; top string values;
                       many traces: per trace and per --by kernel|host|arch|trace
  latency FILE...      durations of entry/return pairs (kprobe+kretprobe or
                       uprobe+uretprobe on one function, syscalls:sys_enter_X
                       + sys_exit_X) or of --start/--end pairs: percentiles
                       and BCC-style log2 histograms; many traces (or globs)
                       merge, --by kernel|host|arch|trace splits them
  flame FILE...        folded stacks (flamegraph.pl, speedscope), --svg
                       interactive flame graph, --pprof profile.proto; many
                       traces add up, --by kernel|host|arch|trace roots them
  diff A B             compare two traces (e.g. one workload on two kernels):
                       counts, rates, latency with Mann-Whitney U and
                       Kolmogorov-Smirnov p-values, stack shares; --svg
                       differential flame graph (red grew, blue shrank)
  diff --a G --b G     compare two groups of traces (a fleet before and after
                       an upgrade): per function, per-host median latency and
                       call rate, Mann-Whitney U across hosts, host-to-host
                       spread, and the hosts that drive a change
  report FILE... -o OUT
                       one self-contained HTML file for a bug report; many
                       traces: a fleet report (traces, groups, latency and
                       flame graph by --by)

Options common to all: --probe PATTERN (repeatable) keeps only these sources,
--filter EXPR applies an ftrace filter offline, --since/--until T limit
the analysis to a time window (T is an offset from the capture start as in
kpcap replay, e.g. 2s, or absolute ns; the loss shown is then the window's),
-q hides progress.

Examples:
  kpcap analyze summary trace.pcapng.zst
  kpcap analyze summary --json trace.pcapng.zst | jq .lost
  kpcap analyze latency trace.pcapng.zst
  kpcap analyze latency --by comm --unit ms trace.pcapng.zst
  kpcap analyze latency --by kernel 'hosts/*.pcapng.zst'
  kpcap analyze latency --since 10s --until 20s --probe 'kprobes:*' trace.pcapng.zst
  kpcap analyze latency --start kpcap:req_begin --end kpcap:req_end --key req_id trace.pcapng.zst
  kpcap analyze flame trace.pcapng.zst > out.folded
  kpcap analyze flame --svg flame.svg --pprof cpu.pb.gz trace.pcapng.zst
  kpcap analyze flame --weight latency --svg slow.svg trace.pcapng.zst
  kpcap analyze diff openat-6.1.pcapng.zst openat-6.12.pcapng.zst --svg diff.svg
  kpcap analyze diff --a 'old/*.pcapng.zst' --b 'new/*.pcapng.zst'
  kpcap analyze report trace.pcapng.zst -o report.html
  kpcap analyze summary --by kernel 'hosts/*.pcapng.zst'
  kpcap analyze flame --by kernel --svg fleet.svg 'hosts/*.pcapng.zst'
  kpcap analyze report --by kernel -o fleet.html 'hosts/*.pcapng.zst'
`

// runAnalyze runs the analyze subcommand args[0] names.
func runAnalyze(args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand (summary, latency, flame, diff or report)")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprint(os.Stdout, analyzeUsage)
		return nil
	case "summary":
		return analyzeSummary(rest)
	case "latency":
		return analyzeLatency(rest)
	case "flame":
		return analyzeFlame(rest)
	case "diff":
		return analyzeDiff(rest)
	case "report":
		return analyzeReport(rest)
	}
	return usagef("unknown analyze subcommand %q (want summary, latency, flame, diff or report)", sub)
}

// commonOpts are the options every subcommand takes.
type commonOpts struct {
	probes       []string
	filter       string
	quiet        bool
	since, until string
}

// addCommon adds the options every subcommand takes to fs.
func addCommon(fs *pflag.FlagSet) *commonOpts {
	o := &commonOpts{}
	fs.StringArrayVar(&o.probes, "probe", nil, "analyze only sources matching `PATTERN` (name or glob); repeatable")
	fs.StringVar(&o.filter, "filter", "", "ftrace filter `EXPR` applied offline")
	fs.StringVar(&o.since, "since", "", "start at `T`: an offset from the capture start (e.g. 2s) or absolute ns")
	fs.StringVar(&o.until, "until", "", "stop before `T` (same forms as --since)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress or notes on stderr; only errors and warnings about lost or corrupt data")
	return o
}

// latencyFlags are the pairing options of latency, flame --weight latency and diff.
func latencyFlags(fs *pflag.FlagSet) *analyze.LatencyOptions {
	o := &analyze.LatencyOptions{}
	fs.StringArrayVar(&o.Start, "start", nil, "pair from this source `SRC` (name or glob; repeatable) instead of automatic entry/return pairs")
	fs.StringArrayVar(&o.End, "end", nil, "... to this source `SRC` (repeatable)")
	fs.StringVar(&o.Key, "key", "", "`FIELD` linking a start to its end, e.g. a request id (default: the thread)")
	return o
}

// subFlags returns the flag set of subcommand name, whose --help prints
// the analyze usage and the subcommand's options.
func subFlags(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("analyze "+name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprint(os.Stdout, analyzeUsage)
		fmt.Fprintf(os.Stdout, "\nOptions of %s:\n", name)
		fmt.Fprint(os.Stdout, fs.FlagUsages())
	}
	return fs
}

// parseFiles parses flags and expands the trace arguments (files, quoted
// globs, directories) into traces: the files of one rotated set are one
// trace, any other file a trace of its own (format.GroupTraces). At least
// one is needed.
func parseFiles(fs *pflag.FlagSet, args []string, what string) ([][]string, error) {
	if err := parseArgs(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() == 0 {
		return nil, usagef("want %s", what)
	}
	files, err := expandTraceArgs(fs.Args())
	if err != nil {
		return nil, err
	}
	return format.GroupTraces(files)
}

// printResult prints an analysis to stdout: v as indented JSON with
// jsonOut, else the text writeText writes, buffered.
func printResult(jsonOut bool, v any, writeText func(io.Writer) error) error {
	if jsonOut {
		return writeJSON(os.Stdout, v)
	}
	w := bufio.NewWriter(os.Stdout)
	if err := writeText(w); err != nil {
		return err
	}
	return w.Flush()
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
