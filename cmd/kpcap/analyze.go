package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/analyze/flame"
	"github.com/kpcap/kpcap/analyze/report"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
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

func parseFlags(fs *pflag.FlagSet, args []string, nfiles int, what string) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, usagef("%v", err)
	}
	if fs.NArg() != nfiles {
		return nil, usagef("want %s, got %d file arguments", what, fs.NArg())
	}
	return fs.Args(), nil
}

// parseFiles parses flags and expands the trace arguments (files, quoted
// globs, directories) into traces: the files of one rotated set are one
// trace, any other file a trace of its own (format.GroupTraces). At least
// one is needed.
func parseFiles(fs *pflag.FlagSet, args []string, what string) ([][]string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, usagef("%v", err)
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

// progressInput wraps a replay reader, shows progress on a TTY (events,
// events/s, compressed bytes read, loss in the trace) and tells the analysis
// its time window. Progress comes from the batches Next returns and, for
// passes that read the frames themselves (the summary's fast path), from
// analyze.ProgressReporter.
type progressInput struct {
	*replay.Reader
	f            *format.File
	since, until uint64
	rows         atomic.Int64  // rows Next returned
	passEvents   atomic.Uint64 // a direct pass's running totals
	passBytes    atomic.Int64
	progress     *progressLine // nil when not shown
}

func (p *progressInput) Next() bool {
	ok := p.Reader.Next()
	if ok {
		p.rows.Add(p.Reader.Record().NumRows())
	} else {
		p.finishProgress()
	}
	return ok
}

var _ analyze.ProgressReporter = (*progressInput)(nil)

// PassProgress implements analyze.ProgressReporter.
func (p *progressInput) PassProgress(events uint64, bytes int64) {
	p.passEvents.Store(events)
	p.passBytes.Store(bytes)
}

// counts is what the progress line shows: events so far and compressed bytes read.
func (p *progressInput) counts() (events uint64, bytes int64) {
	return uint64(p.rows.Load()) + p.passEvents.Load(), p.Reader.BytesRead() + p.passBytes.Load()
}

// finishProgress prints the final progress line and ends it; the analysis
// output follows. It may be called more than once.
func (p *progressInput) finishProgress() {
	if p.progress != nil {
		p.progress.stop()
	}
}

// Window is the analyzed time window on the capture clock.
func (p *progressInput) Window() (since, until uint64) { return p.since, p.until }

// Close closes the reader and the file.
func (p *progressInput) Close() error {
	p.finishProgress()
	err := p.Reader.Close()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// progressLine redraws one status line on w every interval until stop,
// which draws it a last time and ends it with a newline.
type progressLine struct {
	*ticker
	w      io.Writer
	name   string
	total  int64 // compressed bytes of the sample frames
	lost   uint64
	counts func() (events uint64, bytes int64)
	start  time.Time
}

func startProgress(w io.Writer, name string, f *format.File, counts func() (uint64, int64), interval time.Duration) *progressLine {
	l := &progressLine{w: w, name: terminalSafe(name), counts: counts, start: time.Now()}
	for _, fi := range f.Frames {
		l.total += fi.CSize
	}
	for _, lo := range f.Lost {
		l.lost += lo.Count
	}
	l.ticker = startTicker(interval, l.draw, func() {
		l.draw(time.Now())
		fmt.Fprintln(l.w)
	})
	return l
}

func (l *progressLine) draw(now time.Time) {
	events, bytes := l.counts()
	secs := max(now.Sub(l.start).Seconds(), 1e-9)
	fmt.Fprintf(l.w, "\r\033[K%s: %d events, %.0f events/s, %s of %s read, %d lost in trace",
		l.name, events, float64(events)/secs, byteSize(min(bytes, l.total), 1), byteSize(l.total, 1), l.lost)
}

func openInput(paths []string, co *commonOpts) (*progressInput, error) {
	return openInputWorkers(paths, co, 0)
}

// openInputWorkers is openInput with workers frame decoders (0 = one per CPU).
//
// The paths (files, globs, directories) are one trace: the files of a
// rotated set, merged in time order (format.OpenSet), so that pairs and
// comms span its files.
func openInputWorkers(paths []string, co *commonOpts, workers int) (*progressInput, error) {
	f, path, err := openTrace(paths)
	if err != nil {
		return nil, err // it names the path
	}
	p := &progressInput{f: f}
	// The same window as kpcap replay's: offsets count from the capture start.
	if p.since, p.until, err = parseWindow(f, co.since, co.until); err != nil {
		f.Close()
		return nil, err
	}
	r, err := replay.NewReader(f, replay.Options{Probes: co.probes, Filter: co.filter, Since: p.since, Until: p.until, Workers: workers})
	if err != nil {
		f.Close()
		return nil, readerError(path, err)
	}
	p.Reader = r
	if !co.quiet && isTerminal(os.Stderr) {
		p.progress = startProgress(os.Stderr, filepath.Base(path), f, p.counts, 250*time.Millisecond)
	}
	return p, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

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
	if *jsonOut {
		return writeJSON(os.Stdout, s)
	}
	w := bufio.NewWriter(os.Stdout)
	if err := analyze.WriteSummaryText(w, s, isTerminal(os.Stdout)); err != nil {
		return err
	}
	return w.Flush()
}

var unitFlag = map[string]uint64{"ns": 1, "nsecs": 1, "us": 1000, "usecs": 1000, "ms": 1_000_000, "msecs": 1_000_000, "s": 1_000_000_000, "secs": 1_000_000_000}

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
	if *jsonOut {
		return writeJSON(os.Stdout, l)
	}
	w := bufio.NewWriter(os.Stdout)
	if err := analyze.WriteLatencyText(w, l); err != nil {
		return err
	}
	return w.Flush()
}

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
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
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
	if *jsonOut {
		return writeJSON(os.Stdout, d)
	}
	w := bufio.NewWriter(os.Stdout)
	if err := analyze.WriteDiffText(w, d); err != nil {
		return err
	}
	return w.Flush()
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
	if jsonOut {
		return writeJSON(os.Stdout, d)
	}
	w := bufio.NewWriter(os.Stdout)
	if err := analyze.WriteGroupDiffText(w, d); err != nil {
		return err
	}
	return w.Flush()
}

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
