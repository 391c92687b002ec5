//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kpcap/kpcap/cmd/kpcap/internal/earlysignal"
	"github.com/kpcap/kpcap/record"
	"github.com/kpcap/kpcap/record/probedef"
)

// The helper process that runs `kpcap record -- CMD` waits here, on the
// main thread, until the events are attached, then execs CMD.
func init() { record.MaybeRunChild() }

func init() {
	register(&command{
		name:    "record",
		summary: "record tracepoints, kprobes and uprobes into a trace file",
		usage:   recordUsage,
		run:     runRecord,
	})
}

const recordUsage = `Usage: kpcap record [options] [-- COMMAND [ARGS...]]

Record kernel tracepoints, kprobes/kretprobes and uprobes/uretprobes through
perf_event_open into a compressed pcapng trace (default trace.pcapng.zst).
System-wide by default; --pid follows one process, a COMMAND is run and
followed with its children until it exits, --cgroup keeps the tasks of
cgroups (containers, services) and records each sample's cgroup. Once every event is enabled it
prints "kpcap record: recording N sources on M CPUs to FILE" on stderr
(unless -q): scripts may wait for that line. Ctrl-C stops and finalizes the
file (a second Ctrl-C stops at once, counting what it discards as lost).
Needs root (or CAP_PERFMON and CAP_SYS_ADMIN).

Without -e or -p, records sched:sched_process_exec/exit,
syscalls:sys_enter/exit_openat and, where the kernel has kprobes,
do_sys_openat2 entry (filename) and return (ret).

Probe definitions use the kernel's dynamic_events syntax:
  p[:[GRP/]EVENT] [MOD:]SYM[+offs]|ADDR [FETCHARGS]   kprobe (SYM%return: kretprobe)
  r[MAXACTIVE][:[GRP/]EVENT] [MOD:]SYM[+0] [FETCHARGS] kretprobe
  f[:[GRP/]EVENT] [MOD:]SYM[%return] [FETCHARGS]      fprobe (Linux 6.5+)
  t[:[GRP/]EVENT] [MOD:]TRACEPOINT [FETCHARGS]        tracepoint probe (Linux 6.5+)
  p[:[GRP/]EVENT] PATH:OFFSET[(REF)]|PATH:SYMBOL[+offs] [FETCHARGS]  uprobe (r: uretprobe)
  usdt:PATH:[PROVIDER:]NAME [argN[:TYPE]]...          USDT marker(s), NAME may be a glob
A SYM or SYMBOL that is a glob (p 'vfs_*', r '/usr/bin/bash:*readline*') makes
one probe per matching function, named after it (at most --max-probes).
Where the kernel has BTF, arguments go by name: count, $arg*, member paths
(file->f_path.dentry->d_name.name), a typed $retval, :%pd and :%pD. kpcap
translates them into plain fetchargs itself, so Linux 6.1 records them too.

Probes without fetchargs are created through the kprobe/uprobe PMU when
recording system-wide: private to kpcap, nothing can be left behind. With
fetchargs, --pid or a command (whose events must follow forks), they are
created in tracefs under the group kpcap_<pid>, removed when kpcap exits
and, after a crash, by the next kpcap run. Output names stay GROUP:EVENT as
written (default group kprobes or uprobes).

--path bpf records tracepoints, kprobes and uprobes through BPF programs
kpcap generates (no compiler needed) that copy each event into a BPF ring
buffer, without the kernel building a perf sample: the same samples in the
same file (syscall events go through the raw sys_enter/sys_exit tracepoints
on x86-64). --filter becomes part of the programs where it can, -g takes
bpf_get_stack; --pid, commands and --cgroup are checked in the programs.
What they cannot express yet (array, bitfield and symstr fetch arguments,
@ADDR, some filters) is refused, naming the source and why. The default,
--path auto, records those through perf and the rest through BPF (all through
perf where the kernel refuses BPF); --path perf records everything through
perf. kpcap info shows each source's path.

Every sample the kernel could not deliver is counted: the summary and the
file's statistics report lost samples per source exactly.

Examples:
  kpcap record -d 10s
  kpcap record -e 'syscalls:sys_enter_open*' -e sched:sched_switch -o sched.pcapng.zst
  kpcap record -p 'p:myopen do_sys_openat2 filename:string' -p 'r:myopen_ret do_sys_openat2 ret=$retval'
  kpcap record -p 'p vfs_read file->f_path.dentry->d_name.name:string count' -p 'r vfs_read $retval'
  kpcap record -p 't sched_switch prev->pid next->pid' -p 'f vfs_read%return $retval'
  kpcap record -p 'p /usr/bin/bash:readline' -p 'r /usr/bin/bash:readline' --pid 1234
  kpcap record -e syscalls:sys_enter_getppid --filter 'common_pid == 42'
  kpcap record --path bpf -e syscalls:sys_enter_getppid -e 'syscalls:sys_*_openat' -d 10s
  kpcap record -g -e sched:sched_process_exec -- make -j2
  kpcap record -e 'syscalls:sys_enter_*' --cgroup nginx.service -d 30s
  kpcap record -p 'usdt:/usr/bin/python3.11:python:function__entry arg1:ustring arg2:ustring arg3'
  kpcap record -p 'usdt:libstdc++:libstdcxx:throw' --pid 1234
`

func runRecord(args []string) error {
	// First of all (earlysignal began at init): a SIGINT or SIGTERM during
	// the setup below stops the recording cleanly once it has started.
	sigs := earlysignal.Signals()
	defer earlysignal.Stop()
	opts, ro, err := parseRecordArgs(args)
	if err != nil {
		return err
	}
	live := !ro.quiet && isTerminal(os.Stderr)
	out := &recordOutput{w: os.Stderr}
	out.hook(&opts, ro.quiet, live)
	defer rotateOnHUP(&opts)()
	if opts.SnapshotWindow > 0 || opts.SnapshotSize > 0 {
		defer snapshotOnUSR1(&opts)()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts.Force = stopOnSignals(sigs, cancel)

	res, err := record.Run(ctx, opts)
	out.clear()
	if err != nil {
		return recordError(err, res)
	}
	if ro.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
	if !ro.quiet {
		printRecordSummary(res)
		if len(opts.Command) > 0 && res.ExitCode < 0 {
			// The recording stopped first (-d, a signal to kpcap alone): say so,
			// the command goes on untraced.
			fmt.Fprintf(os.Stderr, "[ kpcap record: the command %s is still running, no longer recorded ]\n", opts.Command[0])
		}
	}
	return nil
}

// recordOut is how kpcap record reports: -q and --json.
type recordOut struct {
	quiet, json bool
}

// parseRecordArgs parses kpcap record's flags into the recording's options.
func parseRecordArgs(args []string) (record.Options, recordOut, error) {
	c := commands["record"]
	fs := newFlags(c)
	fs.SetInterspersed(false) // the first non-option starts the command
	events := fs.StringArrayP("event", "e", nil, "tracepoint `SUBSYS:EVENT` (globs allowed); repeatable")
	probes := fs.StringArrayP("probe", "p", nil, "probe `DEF`inition (dynamic_events syntax: p, r, f, t, uprobes, usdt:; names from BTF); repeatable")
	maxProbes := fs.Int("max-probes", record.DefaultMaxProbes, "at most `N` functions per probe pattern (p 'vfs_*', p /bin/x:'*read*')")
	filter := fs.String("filter", "", "in-kernel ftrace filter `EXPR` for the sources that have its fields")
	pid := fs.Int("pid", 0, "record only process `PID` (its threads and later children)")
	cpuList := fs.String("cpu", "", "record only on CPUs `LIST`, e.g. 0,2-3")
	cgroups := fs.StringArray("cgroup", nil, "record only the tasks of cgroup v2 `CG` and its descendants: a directory, a systemd unit (nginx.service) or a container id; repeatable")
	var duration secondsOrDuration
	fs.VarP(&duration, "duration", "d", "stop after `DURATION`: 10s, 500ms, 5m, 1m30s, or a bare number of seconds as for timeout(1) (-d 5 is 5s)")
	callGraph := fs.BoolP("call-graph", "g", false, "record kernel and user call chains")
	path := fs.String("path", record.PathAuto, "capture `PATH`: perf (perf samples), bpf (a generated BPF program per tracepoint, writing into a BPF ring buffer: less cost to the traced tasks) or auto (bpf where the kernel and the source allow it, perf otherwise)")
	bufSize := fs.String("buffer-size", "", "ring buffer `SIZE` per CPU, e.g. 8M (default 16M)")
	output := fs.StringP("output", "o", record.DefaultOutput, "output `FILE`")
	notes := fs.StringArray("note", nil, "store `TEXT` in the file; repeatable")
	var ro recordOut
	fs.BoolVarP(&ro.quiet, "quiet", "q", false, "print nothing but errors")
	fs.BoolVar(&ro.json, "json", false, "print the final summary as JSON on stdout")
	setf := addSetFlags(fs)
	setf.addSnapshotTimes(fs)
	if err := parseArgs(fs, args); err != nil {
		return record.Options{}, ro, err
	}
	opts := record.Options{
		Events:    *events,
		Probes:    *probes,
		MaxProbes: *maxProbes,
		Filter:    *filter,
		PID:       *pid,
		Cgroups:   *cgroups,
		Duration:  time.Duration(duration),
		CallGraph: *callGraph,
		Path:      *path,
		Output:    *output,
		Notes:     *notes,
		Command:   fs.Args(),
		Args:      append([]string{"kpcap", "record"}, args...),
		Version:   version,
	}
	err := checkRecordArgs(&opts, *cpuList, *bufSize, setf)
	return opts, ro, err
}

// checkRecordArgs checks the tracepoint specs and the output, and parses
// --cpu, the set flags and --buffer-size into opts.
func checkRecordArgs(opts *record.Options, cpuList, bufSize string, setf *setFlags) error {
	// Tracepoint specs are checked before anything touches the kernel: a bad
	// glob is a typo to point at, like a malformed probe.
	for _, e := range opts.Events {
		if _, _, err := probedef.ParseTracepoint(e); err != nil {
			return tracepointError(e, err)
		}
	}
	if isStdout(opts.Output) || opts.Output == "" {
		// The file is finalized with a seek index at its end: it needs a real file.
		return usagef("-o %q: kpcap record writes a file, not a pipe; give a file name (then kpcap replay FILE)", opts.Output)
	}
	if cpuList != "" {
		cpus, err := record.ParseCPUList(cpuList)
		if err != nil {
			return usagef("%v", err)
		}
		opts.CPUs = cpus
	}
	if err := setf.apply(opts); err != nil {
		return err
	}
	if bufSize != "" {
		n, err := parseRecordSize(bufSize)
		if err != nil {
			return usagef("bad --buffer-size: %v", err)
		}
		opts.BufferSize = n
	}
	return nil
}

func printRecordSummary(res *record.Result) {
	var b strings.Builder
	st := res.Stats
	rate := 0.0
	if st.Elapsed > 0 {
		rate = float64(st.Samples) / st.Elapsed.Seconds()
	}
	ratio := ""
	if st.Bytes > 0 {
		ratio = fmt.Sprintf(", %.1fx compression", float64(st.RawBytes)/float64(st.Bytes))
	}
	fmt.Fprintf(&b, "[ kpcap record: %d samples, %d lost, in %s (%s/s) ]\n", st.Samples, st.Lost, st.Elapsed.Truncate(time.Millisecond), recordCount(rate))
	out := res.Output
	if len(res.Files) > 0 {
		out = fmt.Sprintf("%d files", len(res.Files))
	}
	if res.SnapshotMemory > 0 {
		fmt.Fprintf(&b, "[ kpcap record: flight recorder: %s raw recorded in memory, %s written in snapshots ]\n", byteSize(st.RawBytes, 2), byteSize(st.Bytes, 2))
	} else {
		fmt.Fprintf(&b, "[ kpcap record: wrote %s to %s (%s raw%s) ]\n", byteSize(st.Bytes, 2), out, byteSize(st.RawBytes, 2), ratio)
	}
	printSetSummary(&b, res)
	w := 0
	for _, s := range st.Sources {
		w = max(w, len(s.Name))
	}
	quiet := 0
	for _, s := range st.Sources {
		if len(st.Sources) > 20 && s.Samples == 0 && s.Lost == 0 {
			quiet++ // many sources (globs): list the active ones
			continue
		}
		fmt.Fprintf(&b, "  %-*s %12d events %8d lost\n", w, s.Name, s.Samples, s.Lost)
	}
	if quiet > 0 {
		fmt.Fprintf(&b, "  (%d more sources without events)\n", quiet)
	}
	attributed := uint64(0)
	for _, s := range st.Sources {
		attributed += s.Lost
	}
	if st.Lost > attributed {
		fmt.Fprintf(&b, "  %-*s %12s        %8d lost (ring overflow, not attributable to one source)\n", w, "(any)", "", st.Lost-attributed)
	}
	if res.ExitCode >= 0 {
		fmt.Fprintf(&b, "[ kpcap record: command exited with status %d ]\n", res.ExitCode)
	}
	u := res.Usage
	cpu := time.Duration(u.UserNS + u.SystemNS)
	share := 0.0
	if st.Elapsed > 0 {
		share = 100 * cpu.Seconds() / st.Elapsed.Seconds()
	}
	diskRate := ""
	if st.Elapsed > 0 {
		diskRate = fmt.Sprintf(", wrote %s/s", byteSize(int64(float64(st.Bytes)/st.Elapsed.Seconds()), 2))
	}
	fmt.Fprintf(&b, "[ kpcap record: recorder used %s CPU (%.1f%% of one CPU), %s peak RSS%s ]\n", cpu.Round(time.Millisecond), share, byteSize(u.MaxRSS, 2), diskRate)
	fmt.Fprint(os.Stderr, b.String())
}

// secondsOrDuration is the --duration flag: a Go duration ("10s", "1m30s",
// "500ms") or, as timeout(1) and sleep(1) read it, a bare number of seconds
// ("-d 1" is one second, never one nanosecond).
type secondsOrDuration time.Duration

func (d *secondsOrDuration) Set(s string) error {
	v, err := parseSecondsOrDuration(s)
	if err != nil {
		return err
	}
	*d = secondsOrDuration(v)
	return nil
}

// String is "" for no limit, so the help shows no default.
func (d *secondsOrDuration) String() string {
	if *d == 0 {
		return ""
	}
	return time.Duration(*d).String()
}

func (d *secondsOrDuration) Type() string { return "duration" }

// parseSecondsOrDuration parses a --duration value; 0 means no limit.
func parseSecondsOrDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if isDecimal(t) {
		secs, err := strconv.ParseFloat(t, 64)
		if err != nil || secs*1e9 >= math.MaxInt64 {
			return 0, fmt.Errorf("%q: too long a duration", s)
		}
		d := time.Duration(math.Round(secs * 1e9))
		if d == 0 && secs > 0 {
			return 0, fmt.Errorf("%q: shorter than a nanosecond (0 means no limit)", s)
		}
		return d, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: want e.g. 10s, 500ms, 5m, 1m30s, or a number of seconds", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q: a duration cannot be negative", s)
	}
	return d, nil
}

// isDecimal reports whether s is a plain decimal number such as 5, 0.5 or .5
// (no sign, exponent, hex, inf or NaN that strconv.ParseFloat would take).
func isDecimal(s string) bool {
	digits, dots := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// parseRecordSize parses "16M", "512K", "1G", "65536" (binary units; "MiB"/"MB" accepted).
func parseRecordSize(s string) (int, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	mult := 1
	switch {
	case strings.HasSuffix(t, "K"):
		mult, t = 1<<10, t[:len(t)-1]
	case strings.HasSuffix(t, "M"):
		mult, t = 1<<20, t[:len(t)-1]
	case strings.HasSuffix(t, "G"):
		mult, t = 1<<30, t[:len(t)-1]
	}
	n, err := strconv.Atoi(t)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size like 8M", s)
	}
	return n * mult, nil
}

// plural says "1 source", "3 sources".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func recordCount(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// attachShown is how many probes or events make attaching worth a progress
// line on a terminal.
const attachShown = 50
