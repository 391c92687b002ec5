package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
	"github.com/kpcap/kpcap/replay/filter"
)

func init() {
	register(&command{
		name:    "replay",
		summary: "decode a trace to text (like trace_pipe), JSON lines, Arrow IPC, Parquet or a Perfetto trace",
		usage:   replayUsage,
		run:     runReplay,
	})
}

const replayUsage = `Usage: kpcap replay [options] FILE

Decode every sample of a trace with the event formats stored in the file and
print it in time order. Everything needed (formats, symbols, command names)
comes from the file, so this works on any machine.

Formats (--format, or guessed from the -o extension):
  text     one line per event in the style of ftrace's trace_pipe:
             comm-tid [cpu] seconds.micros: event: (sym+off/size) field=value ...
  json     one JSON object per line: ts, cpu, pid, tid, comm, probe, the event's
           fields by name, and "stack": [function names] when it has a callchain
           (an integer beyond ±(2^53-1), such as a pointer or -100 in an unsigned
           field, is a string of its exact decimal value: "18446744073709551516";
           JavaScript and jq would round it as a number)
  arrow    one Arrow IPC file (.arrow) holding every selected event
  parquet  one zstd-compressed Parquet file (.parquet)
  perfetto a Perfetto protobuf trace (.perfetto-trace, .pftrace) for
           ui.perfetto.dev and trace_processor: a track per process and
           thread; entry/return pairs (as analyze latency pairs them, or
           --start/--end) as slices named by function with the fields of both
           ends; sched:sched_switch as slices per CPU; every other event (and
           unmatched entries and returns) as an instant with its fields;
           callstacks; counters of events/s per source and lost samples per CPU
Arrow and Parquet hold the columns ts (ns, capture clock), cpu, pid, tid, comm,
probe, stack_id, then each source's fields as nullable typed columns (a field
name whose type differs between sources, or that clashes with a common column,
becomes "SOURCE.field"). When the trace has stacks, -o OUT.parquet also writes
OUT.stacks.parquet (OUT.arrow: OUT.stacks.arrow) with one row per frame:
stack_id, depth (0 = leaf), addr, name, offset, module, kernel.

Selecting events:
  --probe NAME     keep sources matching NAME ("syscalls:sys_enter_openat",
                   "sys_enter_*", "kpcap:*"); repeatable
  --filter EXPR    ftrace filter language, evaluated offline:
                   ==, !=, <, <=, >, >=, & (bit test), ~ (glob on strings),
                   &&, ||, !, ( ); fields: every event field, common_pid, comm, cpu.
                   A source lacking a field the filter names yields no events.
  --since T        keep events at or after T: a duration from the start of the
                   capture (2s, 1.5s, 300ms) or an absolute time in ns on the
                   capture clock (the ts column; text shows it in seconds)
  --until T        keep events before T (same forms)
  --start SRC, --end SRC
                   (perfetto) pair these sources per thread into slices
                   instead of the automatic entry/return pairs; repeatable

Examples:
  kpcap replay trace.pcapng.zst | head
  kpcap replay --probe 'syscalls:sys_enter_openat' --filter 'comm ~ "py*" && flags & 0x40' trace.pcapng.zst
  kpcap replay --since 2s --until 2.5s trace.pcapng.zst
  kpcap replay --format json trace.pcapng.zst | jq -r .probe | sort | uniq -c
  kpcap replay -o events.parquet trace.pcapng.zst
  duckdb -c "SELECT probe, count(*) FROM 'events.parquet' GROUP BY ALL"
  kpcap replay --format arrow --probe kpcap:open -o open.arrow trace.pcapng.zst
  kpcap replay -o trace.perfetto-trace trace.pcapng.zst   # open it in ui.perfetto.dev
`

// replayArgs are kpcap replay's flags and arguments.
type replayArgs struct {
	kind, out     string // output format, output file ("" = stdout)
	files         []string
	probes        []string
	filter        string
	since, until  string
	start, end    []string
	workers       int
	quiet, binary bool // binary: the format is not text
}

func runReplay(args []string) error {
	a, err := parseReplayArgs(args)
	if err != nil {
		return err
	}
	f, path, err := openTrace(a.files)
	if err != nil {
		return err // it names the path
	}
	defer f.Close()
	opts := replay.Options{Probes: a.probes, Filter: a.filter, Workers: a.workers}
	if opts.Since, opts.Until, err = parseWindow(f, a.since, a.until); err != nil {
		return err
	}
	r, err := replay.NewReader(f, opts)
	if err != nil {
		return readerError(path, err)
	}
	defer r.Close()

	// A reader that went away (| head) is not an error: make writes to a
	// closed pipe return EPIPE instead of killing the process.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	dest, err := openReplayDest(a.out)
	if err != nil {
		return err
	}
	defer dest.discard()

	// Progress only when it cannot interleave with events on the terminal.
	live := !a.quiet && isTerminal(os.Stderr) && (a.out != "" || !isTerminal(os.Stdout))
	stop := replayProgress(r, filepath.Base(path), live)
	n, pf, err := writeReplay(a.kind, r, dest.w, analyze.PerfettoOptions{Start: a.start, End: a.end})
	stop()
	if err != nil {
		if errors.Is(err, syscall.EPIPE) {
			return nil
		}
		return fmt.Errorf("%s: %w", path, err) // main says "kpcap replay"
	}
	if a.kind == "perfetto" && !a.quiet {
		fmt.Fprintf(os.Stderr, "kpcap replay: perfetto: %d slices of entry/return pairs, %d CPU slices (sched_switch), %d instants (%d unmatched entries, %d unmatched returns), %d counter values\n",
			pf.Slices, pf.CPUSlices, pf.Instants, pf.UnmatchedEntries, pf.UnmatchedReturns, pf.Counters)
	}
	if err := a.finish(r, dest); err != nil {
		return err
	}
	if a.out != "" && !a.quiet {
		fmt.Fprintf(os.Stderr, "kpcap replay: %d events written to %s\n", n, terminalSafe(a.out))
	}
	replayWarnings(r)
	return nil
}

// parseReplayArgs parses and checks kpcap replay's flags.
func parseReplayArgs(args []string) (*replayArgs, error) {
	c := commands["replay"]
	fs := newFlags(c)
	var a replayArgs
	formatName := fs.StringP("format", "f", "", "output `FORMAT`: text, json, arrow, parquet or perfetto (default: from the -o extension, else text)")
	fs.StringVarP(&a.out, "output", "o", "", "write to `FILE` instead of stdout (- is stdout)")
	fs.StringArrayVar(&a.probes, "probe", nil, "keep only sources matching `NAME` (exact or glob); repeatable")
	fs.StringVar(&a.filter, "filter", "", "ftrace filter `EXPR` evaluated offline")
	fs.StringVar(&a.since, "since", "", "keep events from `T` on (duration from trace start, or absolute ns)")
	fs.StringVar(&a.until, "until", "", "keep events before `T` (duration from trace start, or absolute ns)")
	fs.StringArrayVar(&a.start, "start", nil, "(perfetto) pair from this source `SRC` (name or glob; repeatable) instead of automatic entry/return pairs")
	fs.StringArrayVar(&a.end, "end", nil, "(perfetto) pair to this source `SRC` (name or glob; repeatable)")
	fs.IntVarP(&a.workers, "jobs", "j", 0, "decode with `N` goroutines (default: all CPUs)")
	fs.BoolVarP(&a.quiet, "quiet", "q", false, "no progress on stderr")
	if err := parseArgs(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() < 1 {
		return nil, usagef("want one trace FILE (or several files of a set, a quoted glob, a directory)")
	}
	a.files = fs.Args()
	if isStdout(a.out) {
		a.out = "" // stdout: no temporary file, no "written to" line
	}
	kind, err := replayKind(*formatName, a.out)
	if err != nil {
		return nil, err
	}
	a.kind = kind
	if (len(a.start) > 0 || len(a.end) > 0) && kind != "perfetto" {
		return nil, usagef("--start/--end apply to --format perfetto")
	}
	if (len(a.start) > 0) != (len(a.end) > 0) {
		return nil, usagef("--start and --end go together")
	}
	a.binary = kind == "arrow" || kind == "parquet" || kind == "perfetto"
	if a.binary && a.out == "" && isTerminal(os.Stdout) {
		return nil, usagef("--format %s writes binary data: give -o FILE or redirect stdout", kind)
	}
	return &a, nil
}

// finish puts the written output file in place and writes the stacks of
// Arrow and Parquet output beside it (the sibling file a pipe or device
// cannot have).
func (a *replayArgs) finish(r *replay.Reader, dest *replayDest) error {
	sibling := a.binary && a.kind != "perfetto" // perfetto holds its stacks
	if dest.special && sibling && r.StackCount() > 0 && !a.quiet {
		fmt.Fprintf(os.Stderr, "kpcap replay: %d stacks not written: %s is not a regular file, so it has no sibling for them\n", r.StackCount(), terminalSafe(a.out))
	}
	if dest.tmp == nil {
		return nil
	}
	if err := dest.commit(a.out); err != nil {
		return err
	}
	if sibling && r.StackCount() > 0 {
		sp := stacksPath(a.out, a.kind)
		if err := writeStacks(r, sp, a.kind); err != nil {
			return err
		}
		if !a.quiet {
			fmt.Fprintf(os.Stderr, "kpcap replay: %d stacks written to %s\n", r.StackCount(), terminalSafe(sp))
		}
	}
	return nil
}

// createTemp creates the temporary file that is renamed to path once complete,
// failing before any decoding when path cannot be written; errors name path,
// not the temporary file.
func createTemp(path string) (*os.File, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("create %s: is a directory", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return f, nil
}

// stacksPath turns out.parquet into out.stacks.parquet.
func stacksPath(out, kind string) string {
	ext := filepath.Ext(out)
	if ext == "" {
		return out + ".stacks." + kind
	}
	return strings.TrimSuffix(out, ext) + ".stacks" + ext
}

func writeStacks(r *replay.Reader, path, kind string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if kind == "arrow" {
		_, err = replay.WriteStacksArrow(r, f)
	} else {
		_, err = replay.WriteStacksParquet(r, f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return writeError(path, err)
	}
	return nil
}

// replayWarnings prints what could not be decoded and the capture's losses.
func replayWarnings(r *replay.Reader) {
	f := r.File()
	for _, w := range f.Warnings {
		fmt.Fprintf(os.Stderr, "kpcap replay: warning: %s\n", terminalSafe(w))
	}
	for _, w := range r.Warnings() {
		fmt.Fprintf(os.Stderr, "kpcap replay: warning: %s\n", terminalSafe(w))
	}
	if lost := f.LostTotal(); lost > 0 {
		fmt.Fprintf(os.Stderr, "kpcap replay: warning: the capture lost %d samples (see kpcap analyze summary)\n", lost)
	}
}

// replayProgress shows events and events/s on stderr while live; the
// returned func stops it and ends the line.
func replayProgress(r *replay.Reader, name string, live bool) func() {
	if !live {
		return func() {}
	}
	start := time.Now()
	printed := false // (only the ticker's goroutine uses it)
	t := startTicker(250*time.Millisecond, func(now time.Time) {
		n := r.Rows()
		fmt.Fprintf(os.Stderr, "\r%s: %d events, %.0f events/s ", terminalSafe(name), n, float64(n)/now.Sub(start).Seconds())
		printed = true
	}, func() {
		if printed {
			fmt.Fprintln(os.Stderr)
		}
	})
	return t.stop
}

// readerError explains a replay.NewReader failure: a usage error (exit 2)
// when --probe or --filter caused it, else an error naming the file.
func readerError(path string, err error) error {
	var se *replay.SelectError
	var fe *filter.Error
	switch {
	case errors.As(err, &se):
		return usagef("no source matches --probe %s; the trace has: %s", strings.Join(se.Probes, ","), strings.Join(se.Sources, ", "))
	case errors.As(err, &fe) || errors.Is(err, replay.ErrFilterFields):
		return usagef("%v", err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// parseWindow resolves --since and --until (offsets from the capture start,
// or absolute ns on the capture clock) to ns; 0 means unbounded. replay and
// analyze share it so that one offset selects the same events in both.
func parseWindow(f *format.File, since, until string) (s, u uint64, err error) {
	start := replay.TraceStart(f)
	if since != "" {
		if s, err = replay.ParseTime(since, start); err != nil {
			return 0, 0, usagef("--since: %v", err)
		}
	}
	if until != "" {
		if u, err = replay.ParseTime(until, start); err != nil {
			return 0, 0, usagef("--until: %v", err)
		}
		if u <= s {
			if since == "" {
				return 0, 0, usagef("--until %s: the window is empty", until)
			}
			return 0, 0, usagef("--until %s is not after --since %s: the window is empty", until, since)
		}
	}
	return s, u, nil
}
