//go:build linux

// Command kpcap-bench measures kpcap against perf on this machine: the
// slowdown each recorder causes to a syscall-heavy workload, the recorder's
// own CPU time, samples recorded and lost (checked against the exactly known
// event count of the workload), bytes per event, and how fast each tool's
// analyzers read the trace back. Tools alternate within each repetition
// (untraced, perf record, perf record -z, kpcap record; each repetition
// starts one tool later, and the disks are synced before every run) and the
// tables show medians. It needs root, perf and the Go toolchain.
//
// Usage:
//
//	go run ./cmd/kpcap-bench [--runs 5] [--events 2000000] [--kpcap PATH] [--quick] [--json]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

const usage = `kpcap-bench compares kpcap record/replay/analyze with perf record/script.

Usage: go run ./cmd/kpcap-bench [options]    (as root, with perf installed)

For each workload (getppid: N getppid calls; openat: N/4 openat+close calls,
from one locked OS thread) and each repetition it runs, in this order: the
workload untraced, under 'perf record -a', under 'perf record -a -z' and under
'kpcap record' (system-wide by default), recording the same tracepoints. It
reports the workload's wall and thread CPU time against the untraced run, the
recorder's CPU time (user+sys), samples recorded for the workload's pid (perf's
duplicates removed) and lost, checked against the known call count, and bytes
per event. Then it times 'perf script' against 'kpcap replay', 'kpcap analyze
summary' and 'kpcap analyze latency' (all to /dev/null) on the last
repetition's traces. Medians go to stdout as markdown tables (or JSON with
--json); progress goes to stderr.

Examples:
  sudo go run ./cmd/kpcap-bench --quick                 # smoke test: 1 run, 200k events
  sudo go run ./cmd/kpcap-bench --runs 5 > bench.md     # the README numbers
  sudo go run ./cmd/kpcap-bench --tools untraced,perf,perf-z --json
`

func main() {
	opts, err := parseFlags(os.Args[1:])
	if errors.Is(err, pflag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kpcap-bench: %v\nrun 'kpcap-bench --help' for usage\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var progress io.Writer = os.Stderr
	if opts.Quiet {
		progress = io.Discard
	}
	rep, err := runBench(ctx, opts, progress)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kpcap-bench: %v\n", err)
		os.Exit(1)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		fmt.Fprintf(os.Stderr, "kpcap-bench: %v\n", err)
		os.Exit(1)
	}
	js = append(js, '\n')
	if opts.JSONOut != "" {
		if err := os.WriteFile(opts.JSONOut, js, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "kpcap-bench: %v\n", err)
			os.Exit(1)
		}
	}
	if opts.JSON {
		os.Stdout.Write(js)
	} else {
		writeMarkdown(os.Stdout, rep)
	}
	if len(rep.Errors) > 0 {
		os.Exit(1)
	}
}

// options are the command-line settings.
type options struct {
	Runs        int
	Events      int
	OpenatCalls int
	Kpcap       string
	KpcapBase   string // a second kpcap binary, run as the kpcap-bpf-base tool
	Quick       bool
	JSON        bool
	JSONOut     string // also write the JSON report to this file
	Quiet       bool
	Tools       []string
	Workloads   []string
	PerfMmap    string // perf record -m value; "" = perf's default
	Keep        string // directory to keep traces and logs in; "" = temporary
	NoAnalysis  bool
	Busy        bool     // also run every workload with a process spinning on one CPU
	Profile     bool     // sample kpcap's CPU with perf in an extra repetition
	Args        []string // the command line, for the report
}

func parseFlags(args []string) (*options, error) {
	o := &options{Args: args}
	fs := pflag.NewFlagSet("kpcap-bench", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.IntVar(&o.Runs, "runs", 5, "repetitions (medians are reported)")
	fs.IntVar(&o.Events, "events", 2_000_000, "getppid calls of the getppid workload")
	fs.IntVar(&o.OpenatCalls, "openat-calls", 0, "openat+close calls of the openat workload (default events/4)")
	fs.StringVar(&o.Kpcap, "kpcap", "", "kpcap binary (default: build ./cmd/kpcap into a temporary directory)")
	fs.StringVar(&o.KpcapBase, "kpcap-base", "", "a second kpcap binary (an earlier build) for the kpcap-bpf-base tool: kpcap record --path bpf by that binary, to compare two builds in one alternating run")
	fs.BoolVar(&o.Quick, "quick", false, "smoke test: --runs 1 --events 200000")
	fs.BoolVar(&o.JSON, "json", false, "print the report as JSON instead of markdown")
	fs.StringVar(&o.JSONOut, "json-out", "", "also write the JSON report to this file")
	fs.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress lines on stderr")
	fs.StringSliceVar(&o.Tools, "tools", []string{toolUntraced, toolPerf, toolPerfZ, toolKpcap, toolKpcapBPF, toolBpftraceCount, toolBpftracePrint}, "tools to run: untraced,perf,perf-z,kpcap,kpcap-bpf (kpcap record --path bpf),bpftrace-count,bpftrace-print; also kpcap-snapshot (kpcap record --snapshot, asked once when the workload is done) and kpcap-bpf-base (see --kpcap-base)")
	fs.StringSliceVar(&o.Workloads, "workloads", []string{"getppid", "openat"}, "workloads to run: getppid,openat; also uprobe (a uprobe on a function of the workload, hit events/20 times; kpcap's tools only)")
	fs.StringVar(&o.PerfMmap, "perf-mmap", "", "pass -m SIZE to perf record (e.g. 16M, kpcap's default ring size); default: perf's own")
	fs.StringVar(&o.Keep, "keep", "", "keep traces and recorder logs in this directory")
	fs.BoolVar(&o.Profile, "profile", false, "after the measured runs, sample kpcap record/replay/analyze summary with perf record -g and list their top symbols")
	fs.BoolVar(&o.NoAnalysis, "no-analysis", false, "skip timing perf script / kpcap replay / analyze")
	fs.BoolVar(&o.Busy, "busy", false, "also run every workload while another process spins on the last CPU (a busy machine)")
	fs.Usage = func() {
		fmt.Fprint(os.Stdout, usage)
		fmt.Fprintln(os.Stdout, "\nOptions:")
		fmt.Fprint(os.Stdout, fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.Quick {
		if !fs.Changed("runs") {
			o.Runs = 1
		}
		if !fs.Changed("events") {
			o.Events = 200_000
		}
	}
	if o.Runs < 1 {
		return nil, fmt.Errorf("--runs %d: want at least 1", o.Runs)
	}
	if o.Events < 1 {
		return nil, fmt.Errorf("--events %d: want at least 1", o.Events)
	}
	if o.OpenatCalls == 0 {
		o.OpenatCalls = max(o.Events/4, 1)
	}
	if o.OpenatCalls < 0 {
		return nil, fmt.Errorf("--openat-calls %d: want at least 1", o.OpenatCalls)
	}
	known := []string{toolUntraced, toolPerf, toolPerfZ, toolKpcap, toolKpcapBPF, toolKpcapBPFBase, toolKpcapSnap, toolBpftraceCount, toolBpftracePrint}
	for _, t := range o.Tools {
		if !slices.Contains(known, t) {
			return nil, fmt.Errorf("--tools: unknown tool %q (want %s)", t, strings.Join(known, ","))
		}
		if t == toolKpcapBPFBase && o.KpcapBase == "" {
			return nil, fmt.Errorf("--tools %s needs --kpcap-base PATH", t)
		}
	}
	hasUntraced := false
	for _, t := range o.Tools {
		hasUntraced = hasUntraced || t == toolUntraced
	}
	if !hasUntraced {
		// Slowdowns are relative to the untraced run.
		o.Tools = append([]string{toolUntraced}, o.Tools...)
	}
	for _, w := range o.Workloads {
		if w != "getppid" && w != "openat" && w != "uprobe" {
			return nil, fmt.Errorf("--workloads: unknown workload %q (want getppid,openat,uprobe)", w)
		}
	}
	return o, nil
}
