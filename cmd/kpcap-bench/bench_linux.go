//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record"
	"golang.org/x/sys/unix"
)

// bench holds the state of one benchmark run.
type bench struct {
	opts     *options
	dir      string // traces, logs, binaries
	workload string // workload binary
	kpcap    string // kpcap binary
	progress io.Writer
	report   *Report
	hasInfo  *bool // kpcap has the info command
}

// workloadSpec describes how to run and check one workload.
type workloadSpec struct {
	name   string // the workload binary's kind
	calls  int
	events []string
	perEv  uint64 // recorded events per call
	exact  bool   // only the loop makes these calls: the count is exact
	busy   bool   // another process spins on one CPU meanwhile
}

func (b *bench) specs() []workloadSpec {
	var out []workloadSpec
	for _, w := range b.opts.Workloads {
		switch w {
		case "getppid":
			out = append(out, workloadSpec{"getppid", b.opts.Events, []string{"syscalls:sys_enter_getppid"}, 1, true, false})
		case "openat":
			// The Go runtime opens a few files at startup: the count is a lower bound.
			out = append(out, workloadSpec{"openat", b.opts.OpenatCalls, []string{"syscalls:sys_enter_openat", "syscalls:sys_exit_openat"}, 2, false, false})
		}
	}
	return out
}

func (b *bench) logf(msg string, a ...any) {
	fmt.Fprintf(b.progress, "kpcap-bench: "+msg+"\n", a...)
}

func hasTool(o *options, name string) bool {
	for _, t := range o.Tools {
		if t == name {
			return true
		}
	}
	return false
}

// runBench runs the whole benchmark and returns its report. Failures of single
// runs are recorded in the report; only setup failures return an error.
func runBench(ctx context.Context, opts *options, progress io.Writer) (*Report, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("must run as root: system-wide recording of tracepoints needs it")
	}
	b := &bench{opts: opts, progress: progress}
	if opts.Keep != "" {
		if err := os.MkdirAll(opts.Keep, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", opts.Keep, err)
		}
		b.dir = opts.Keep
	} else {
		d, err := os.MkdirTemp("", "kpcap-bench-")
		if err != nil {
			return nil, fmt.Errorf("temporary directory: %w", err)
		}
		defer os.RemoveAll(d)
		b.dir = d
	}
	if hasTool(opts, toolPerf) || hasTool(opts, toolPerfZ) {
		if _, err := exec.LookPath("perf"); err != nil {
			return nil, fmt.Errorf("perf not found (install linux-perf): %w", err)
		}
	}
	var bpftraceNote string
	if hasTool(opts, toolBpftraceCount) || hasTool(opts, toolBpftracePrint) {
		if _, err := exec.LookPath("bpftrace"); err != nil {
			// A peer, not the subject: run without it and say so.
			opts.Tools = slices.DeleteFunc(slices.Clone(opts.Tools), isBpftrace)
			bpftraceNote = "bpftrace is not installed (apt install bpftrace): its rows are left out"
			b.logf("%s", bpftraceNote)
		}
	}
	b.logf("building the workload")
	b.workload = filepath.Join(b.dir, "workload")
	if err := goBuild(ctx, b.workload, "github.com/kpcap/kpcap/cmd/kpcap-bench/internal/workload"); err != nil {
		return nil, err
	}
	if hasTool(opts, toolKpcap) || hasTool(opts, toolKpcapBPF) || hasTool(opts, toolKpcapBPFBase) || hasTool(opts, toolKpcapSnap) {
		b.kpcap = opts.Kpcap
		if b.kpcap == "" {
			b.logf("building kpcap")
			b.kpcap = filepath.Join(b.dir, "kpcap")
			if err := goBuild(ctx, b.kpcap, "github.com/kpcap/kpcap/cmd/kpcap"); err != nil {
				return nil, err
			}
		}
	}
	b.report = &Report{
		Machine: machineInfo(b.kpcap),
		Config: Config{Runs: opts.Runs, Events: opts.Events, OpenatCalls: opts.OpenatCalls, Tools: opts.Tools,
			Command: strings.TrimSpace("go run ./cmd/kpcap-bench " + strings.Join(opts.Args, " "))},
	}
	if bpftraceNote != "" {
		b.report.Notes = append(b.report.Notes, bpftraceNote)
	}
	for _, spec := range b.specs() {
		busy := []bool{false}
		if opts.Busy {
			busy = append(busy, true)
		}
		for _, bz := range busy {
			spec.busy = bz
			w, err := b.runWorkload(ctx, spec)
			if w != nil {
				b.report.Workloads = append(b.report.Workloads, w)
			}
			if err != nil {
				return b.report, err
			}
		}
	}
	b.report.Targets = evaluateTargets(b.report.Workloads)
	b.report.Machine.LoadAfter = loadAvg()
	return b.report, nil
}

func goBuild(ctx context.Context, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s (run from inside the kpcap module): %w\n%s", pkg, err, stderr.String())
	}
	return nil
}

// rotated returns ts started at index k (mod len): each repetition starts
// with the next tool, so that no tool always runs right after the same one
// (and inherits its after-effects: page cache, writeback, CPU frequency).
func rotated[T any](ts []T, k int) []T {
	if len(ts) == 0 {
		return ts
	}
	k %= len(ts)
	return append(append([]T(nil), ts[k:]...), ts[:k]...)
}

// runWorkload runs every repetition of every tool on one workload, then the analyzers.
func (b *bench) runWorkload(ctx context.Context, spec workloadSpec) (*Workload, error) {
	w := &Workload{Name: spec.name, Calls: spec.calls, Events: spec.events,
		Expected: uint64(spec.calls) * spec.perEv, Exact: spec.exact, Busy: spec.busy}
	if spec.busy {
		w.Name += busySuffix
		_, stop, err := b.startSpinner(ctx)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	for _, t := range b.opts.Tools {
		w.Tools = append(w.Tools, &ToolRuns{Tool: t, Label: toolLabel(t), Command: b.recordCommand(t, spec, "FILE", nil)})
	}
	traces := map[string]string{} // tool -> trace of the latest successful run
	for rep := 1; rep <= b.opts.Runs; rep++ {
		for _, t := range rotated(w.Tools, rep-1) {
			if err := ctx.Err(); err != nil {
				return w, err
			}
			trace := filepath.Join(b.dir, fmt.Sprintf("%s-%s-%d.%s", spec.name, t.Tool, rep, traceExt(t.Tool)))
			// Write back the previous runs' files (perf's are 100+ MB) now,
			// rather than by kernel threads competing with this run.
			unix.Sync()
			r := b.runOne(ctx, t.Tool, spec, rep, trace)
			t.Runs = append(t.Runs, r)
			if r.Error != "" {
				b.logf("[%d/%d] %s %s: FAILED: %s", rep, b.opts.Runs, spec.name, t.Label, r.Error)
				b.report.Errors = append(b.report.Errors, fmt.Sprintf("%s, %s, run %d: %s", spec.name, t.Label, rep, r.Error))
				if b.opts.Keep == "" {
					os.Remove(trace)
				}
				continue
			}
			b.logf("[%d/%d] %s %s: %s", rep, b.opts.Runs, spec.name, t.Label, runLine(r))
			if t.Tool == toolUntraced {
				continue
			}
			// Keep only the newest trace of each tool: the analyzers read it.
			if old := traces[t.Tool]; old != "" && b.opts.Keep == "" {
				os.Remove(old)
			}
			traces[t.Tool] = trace
		}
	}
	untracedNS, untracedCPU := math.NaN(), math.NaN()
	if u := w.tool(toolUntraced); u != nil {
		var ns, cpu []float64
		for _, r := range u.Runs {
			if r.Error == "" {
				ns = append(ns, float64(r.WorkloadNS))
				cpu = append(cpu, float64(r.WorkloadCPU))
			}
		}
		untracedNS, untracedCPU = median(ns), median(cpu)
	}
	for _, t := range w.Tools {
		summarize(t, untracedNS, untracedCPU, w.Expected)
	}
	if !b.opts.NoAnalysis {
		if err := b.runAnalysis(ctx, w, traces); err != nil {
			return w, err
		}
	}
	if b.opts.Profile && hasTool(b.opts, toolKpcap) {
		b.runProfiles(ctx, spec, w, traces)
	}
	return w, nil
}

// busySuffix names the busy variant of a workload.
const busySuffix = ", one CPU busy"

// startSpinner starts a process that keeps the last CPU busy (the machine's
// other work, as on a loaded server) and returns its pid and the function
// stopping it (it may be called more than once).
func (b *bench) startSpinner(ctx context.Context) (int, func(), error) {
	cpu := runtime.NumCPU() - 1
	cmd := exec.CommandContext(ctx, b.workload, "spin", fmt.Sprint(cpu))
	if err := cmd.Start(); err != nil {
		return 0, nil, fmt.Errorf("start the spinning process: %w", err)
	}
	b.logf("a process spins on CPU %d (pid %d) during the busy runs", cpu, cmd.Process.Pid)
	var once sync.Once
	return cmd.Process.Pid, func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}, nil
}

func traceExt(tool string) string {
	if isKpcap(tool) {
		return "pcapng.zst"
	}
	if isBpftrace(tool) {
		return "txt"
	}
	return "data"
}

func runLine(r *Run) string {
	s := fmt.Sprintf("workload %.0f ms (%.0f ms CPU)", float64(r.WorkloadNS)/1e6, float64(r.WorkloadCPU)/1e6)
	if r.StartupS > 0 {
		s += fmt.Sprintf(", recorder ready after %.2f s", r.StartupS)
	}
	if r.Counts != nil {
		s += fmt.Sprintf(", recorder CPU %.2f s, %d samples of pid %d (%d in file, %d duplicate), %d lost, %.1f B/event, %s",
			r.RecorderCPU, r.Counts.PID, r.PID, r.Counts.Total, r.Counts.Duplicates, r.Counts.Lost,
			float64(r.FileBytes)/math.Max(1, float64(r.Counts.Total)), r.Verdict)
	}
	return s
}

// recordCommand is the recorder command line for tool writing to out;
// ctl/ack are perf's control fifos (nil when only printing the command).
func (b *bench) recordCommand(tool string, spec workloadSpec, out string, fifos []string) string {
	args := recordArgs(tool, spec, out, b.kpcapBinary(tool), b.opts.PerfMmap, fifos)
	if args == nil {
		return ""
	}
	if isKpcap(tool) {
		args[0] = "kpcap"
	}
	return strings.Join(args, " ")
}

// kpcapBinary returns the kpcap binary that runs tool.
func (b *bench) kpcapBinary(tool string) string {
	if tool == toolKpcapBPFBase {
		return b.opts.KpcapBase
	}
	return b.kpcap
}

// recordArgs returns the recorder's argv.
func recordArgs(tool string, spec workloadSpec, out, kpcap, perfMmap string, fifos []string) []string {
	events := strings.Join(spec.events, ",")
	switch tool {
	case toolPerf, toolPerfZ:
		// --no-bpf-event: otherwise perf's side-band thread adds up to 1 s of
		// idle wall time to every run.
		a := []string{"perf", "record", "-a", "--no-bpf-event", "-e", events, "-o", out}
		if tool == toolPerfZ {
			a = append(a, "-z")
		}
		if perfMmap != "" {
			a = append(a, "-m", perfMmap)
		}
		if fifos != nil {
			// Start disabled and enable through the control fifo: the ack
			// tells exactly when recording has begun.
			a = append(a, "-D", "-1", "--control", "fifo:"+fifos[0]+","+fifos[1])
		}
		return a
	case toolBpftraceCount, toolBpftracePrint:
		return bpftraceArgs(tool, spec)
	case toolKpcap, toolKpcapBPF, toolKpcapBPFBase:
		// System-wide is kpcap's default. No -q: its start line on stderr
		// ("kpcap record: recording ...") tells when every event is enabled;
		// progress lines only go to a terminal, and stderr is a log file.
		a := []string{kpcap, "record", "-o", out}
		if tool != toolKpcap {
			a = append(a, "--path", "bpf")
		}
		for _, e := range spec.events {
			a = append(a, "-e", e)
		}
		return a
	case toolKpcapSnap:
		a := []string{kpcap, "record", "--snapshot", snapshotWindow, "-o", out}
		for _, e := range spec.events {
			a = append(a, "-e", e)
		}
		return a
	}
	return nil
}

// runOne runs one repetition of one tool.
func (b *bench) runOne(ctx context.Context, tool string, spec workloadSpec, rep int, trace string) *Run {
	r := &Run{Rep: rep}
	var err error
	if tool == toolUntraced {
		var wr workloadResult
		wr, err = b.runWorkloadProcess(ctx, spec)
		r.WorkloadNS, r.WorkloadCPU, r.PID = wr.NS, wr.CPUNS, wr.PID
	} else {
		err = b.runRecorded(ctx, tool, spec, trace, r)
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

func (b *bench) runWorkloadProcess(ctx context.Context, spec workloadSpec) (workloadResult, error) {
	cmd := exec.CommandContext(ctx, b.workload, spec.name, fmt.Sprint(spec.calls))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return workloadResult{}, fmt.Errorf("workload: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return parseWorkload(out)
}

// recorder is a running recorder process.
type recorder struct {
	cmd     *exec.Cmd
	log     string
	started time.Time
	done    chan error
	peakRSS int64 // VmHWM just before the stop signal; 0 if unread
}

func (b *bench) startRecorder(args []string, log string) (*recorder, error) {
	lf, err := os.Create(log)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", log, err)
	}
	defer lf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	// Own process group: a Ctrl-C at the terminal reaches the benchmark,
	// which then stops the recorder itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	rec := &recorder{cmd: cmd, log: log, started: time.Now(), done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", args[0], err)
	}
	go func() { rec.done <- cmd.Wait() }()
	return rec, nil
}

// stop interrupts the recorder (it must finalize its file on SIGINT) and waits.
func (rec *recorder) stop() error {
	if n, ok := record.PeakRSS(rec.cmd.Process.Pid); ok {
		rec.peakRSS = n
	}
	_ = rec.cmd.Process.Signal(os.Interrupt) // fails harmlessly if it already exited
	select {
	case err := <-rec.done:
		if err != nil && !killedByInterrupt(err) {
			return fmt.Errorf("%s: %w; log: %s", filepath.Base(rec.cmd.Path), err, tail(rec.log))
		}
		return nil
	case <-time.After(3 * time.Minute):
		_ = rec.cmd.Process.Kill()
		<-rec.done
		return fmt.Errorf("%s did not exit within 3 minutes of SIGINT (killed); log: %s", filepath.Base(rec.cmd.Path), tail(rec.log))
	}
}

// killedByInterrupt reports whether err says the process died of SIGINT:
// perf re-raises the signal after finalizing its file.
func killedByInterrupt(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGINT
}

// exited reports whether the recorder already exited, with its error.
func (rec *recorder) exited() (bool, error) {
	select {
	case err := <-rec.done:
		rec.done <- err // keep it for stop
		if err == nil {
			err = errors.New("exited early")
		}
		return true, fmt.Errorf("%s: %w; log: %s", filepath.Base(rec.cmd.Path), err, tail(rec.log))
	default:
		return false, nil
	}
}

// cpuSeconds returns the recorder's user+sys time (its whole thread group).
func (rec *recorder) cpuSeconds() float64 {
	ru, ok := rec.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return math.NaN()
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func tail(path string) string {
	data, _ := os.ReadFile(path)
	s := strings.TrimSpace(string(data))
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	if s == "" {
		return "(empty)"
	}
	return s
}

// runRecorded runs the workload under a recorder and counts what it wrote.
func (b *bench) runRecorded(ctx context.Context, tool string, spec workloadSpec, trace string, r *Run) error {
	log := trace + ".log"
	var fifos []string
	if tool == toolPerf || tool == toolPerfZ {
		fifos = []string{trace + ".ctl", trace + ".ack"}
		for _, f := range fifos {
			os.Remove(f)
			if err := syscall.Mkfifo(f, 0o600); err != nil {
				return fmt.Errorf("mkfifo %s: %w", f, err)
			}
			defer os.Remove(f)
		}
	}
	if isBpftrace(tool) {
		log = trace // bpftrace prints its events or its map on stdout
	}
	rec, err := b.startRecorder(recordArgs(tool, spec, trace, b.kpcapBinary(tool), b.opts.PerfMmap, fifos), log)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = rec.stop()
		}
	}()
	switch {
	case fifos != nil:
		err = waitPerfEnabled(ctx, rec, fifos)
	case isBpftrace(tool):
		err = waitLogLine(ctx, rec, bpftraceReady, "bpftrace")
	default:
		err = waitKpcapStarted(ctx, rec)
	}
	if err != nil {
		return err
	}
	r.StartupS = time.Since(rec.started).Seconds()
	wr, werr := b.runWorkloadProcess(ctx, spec)
	if werr == nil && tool == toolKpcapSnap {
		// The flight recorder writes only when asked.
		if trace, err = askSnapshot(ctx, rec, trace); err != nil {
			return err
		}
	}
	stopped = true
	serr := rec.stop()
	if werr != nil {
		return werr
	}
	if serr != nil {
		return serr
	}
	r.WorkloadNS, r.WorkloadCPU, r.PID = wr.NS, wr.CPUNS, wr.PID
	r.RecorderCPU = rec.cpuSeconds()
	r.RecorderRSS = rec.maxRSS()
	r.RecorderWall = time.Since(rec.started).Seconds()
	fi, err := os.Stat(trace)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	r.FileBytes = fi.Size()
	var c sampleCounts
	switch {
	case isKpcap(tool):
		c, err = b.countKpcap(ctx, trace, wr.PID, r)
	case isBpftrace(tool):
		c, err = countBpftrace(trace, tool, wr.PID)
	default:
		c, err = countPerf(ctx, trace, wr.PID)
	}
	if err != nil {
		return err
	}
	r.Counts = &c
	r.Verdict = verdict(c.PID, c.Lost, uint64(spec.calls)*spec.perEv, spec.exact)
	return nil
}

// waitPerfEnabled tells perf (started with -D -1 --control) to enable its
// events and waits for the acknowledgement.
func waitPerfEnabled(ctx context.Context, rec *recorder, fifos []string) error {
	// O_RDWR: opening a fifo never blocks then, whether or not perf has it open yet.
	ctl, err := os.OpenFile(fifos[0], os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", fifos[0], err)
	}
	defer ctl.Close()
	ack, err := os.OpenFile(fifos[1], os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", fifos[1], err)
	}
	defer ack.Close()
	if _, err := ctl.WriteString("enable\n"); err != nil {
		return fmt.Errorf("perf control fifo: %w", err)
	}
	got := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(ack).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ack" {
			err = fmt.Errorf("perf control fifo: got %q, want ack", line)
		}
		got <- err
	}()
	deadline := time.After(time.Minute)
	for {
		select {
		case err := <-got:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("perf did not acknowledge enable within 1 minute; log: %s", tail(rec.log))
		case <-time.After(50 * time.Millisecond):
			if done, err := rec.exited(); done {
				return err
			}
		}
	}
}

// kpcapStartLine is what kpcap record prints on stderr once every event is enabled.
const kpcapStartLine = "kpcap record: recording "

// waitKpcapStarted waits for kpcap record's start line in its log.
func waitKpcapStarted(ctx context.Context, rec *recorder) error {
	return waitLogLine(ctx, rec, kpcapStartLine, "kpcap record")
}

// waitLogLine waits for line to appear in the recorder's log.
func waitLogLine(ctx context.Context, rec *recorder, line, what string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		if b, err := os.ReadFile(rec.log); err == nil && strings.Contains(string(b), line) {
			return nil
		}
		if done, err := rec.exited(); done {
			if err == nil {
				err = fmt.Errorf("%s exited before recording; log: %s", what, tail(rec.log))
			}
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not start recording within 1 minute; log: %s", what, tail(rec.log))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitPerfFDs waits until the recorder holds perf_event file descriptors,
// their number has been stable for a while, and the recorder has gone idle
// (its setup done, it waits for samples); used for the perf profiler, which
// has no readiness signal of its own here.
func waitPerfFDs(ctx context.Context, rec *recorder) error {
	pid := rec.cmd.Process.Pid
	start := time.Now()
	last, stableSince := -1, time.Now()
	var cpuHist []time.Duration // recorder CPU time, one entry per poll
	const poll = 20 * time.Millisecond
	for {
		if done, err := rec.exited(); done {
			return err
		}
		n := countPerfFDs(pid)
		if n != last {
			last, stableSince = n, time.Now()
		}
		cpu, _ := procCPU(pid)
		cpuHist = append(cpuHist, cpu)
		if n > 0 && time.Since(stableSince) >= 300*time.Millisecond {
			// Idle: under 10 ms of CPU in the last 200 ms; give up waiting
			// for idleness after 10 s (a busy system keeps it recording).
			k := int(200 * time.Millisecond / poll)
			if len(cpuHist) > k && cpuHist[len(cpuHist)-1]-cpuHist[len(cpuHist)-1-k] < 10*time.Millisecond {
				return nil
			}
			if time.Since(stableSince) > 10*time.Second {
				return nil
			}
		}
		if time.Since(start) > time.Minute {
			return fmt.Errorf("recorder opened no perf events within 1 minute; log: %s", tail(rec.log))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// procCPU returns the user+sys time of process pid from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(string(data), 100) // USER_HZ is 100 on every Linux ABI Go supports
}

func countPerfFDs(pid int) int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == "anon_inode:[perf_event]" {
			n++
		}
	}
	return n
}

// countPerf counts a perf.data file's samples with perf script and its losses
// with perf script and perf report --stats (the larger of the two).
func countPerf(ctx context.Context, trace string, pid int) (sampleCounts, error) {
	c := newSampleCounter(pid)
	cmd := exec.CommandContext(ctx, "perf", append([]string{"script", "-i", trace}, perfScriptArgs...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return sampleCounts{}, err
	}
	if err := cmd.Start(); err != nil {
		return sampleCounts{}, fmt.Errorf("perf script: %w", err)
	}
	perr := parsePerfScript(out, c)
	if perr != nil {
		_, _ = io.Copy(io.Discard, out)
	}
	if err := cmd.Wait(); err != nil {
		return sampleCounts{}, fmt.Errorf("perf script -i %s: %w: %s", trace, err, strings.TrimSpace(stderr.String()))
	}
	if perr != nil {
		return sampleCounts{}, perr
	}
	counts := c.counts()
	rep, err := exec.CommandContext(ctx, "perf", "report", "-i", trace, "--stats").CombinedOutput()
	if err != nil {
		return counts, fmt.Errorf("perf report --stats -i %s: %w: %s", trace, err, strings.TrimSpace(string(rep)))
	}
	lost, err := parsePerfStatsLost(bytes.NewReader(rep))
	if err != nil {
		return counts, err
	}
	counts.Lost = max(counts.Lost, lost)
	return counts, nil
}

// countKpcap counts a kpcap trace's samples by reading it with the format
// package (independently of kpcap replay), and cross-checks the totals with
// `kpcap info --json`.
func (b *bench) countKpcap(ctx context.Context, trace string, pid int, r *Run) (sampleCounts, error) {
	f, err := format.Open(trace)
	if err != nil {
		return sampleCounts{}, fmt.Errorf("open trace: %w", err)
	}
	defer f.Close()
	c := newSampleCounter(pid)
	names := make([]string, len(f.Header.Sources))
	for i, s := range f.Header.Sources {
		names[i] = s.Name
	}
	it := f.Samples()
	for it.Next() {
		s := it.Sample()
		name := fmt.Sprintf("source %d", s.Source)
		if int(s.Source) < len(names) {
			name = names[s.Source]
		}
		c.add(s.Time, s.CPU, s.PID, s.TID, name)
	}
	if err := it.Err(); err != nil {
		return sampleCounts{}, fmt.Errorf("read trace: %w", err)
	}
	if len(f.Warnings) > 0 {
		return sampleCounts{}, fmt.Errorf("trace read with warnings: %s", strings.Join(f.Warnings, "; "))
	}
	counts := c.counts()
	// The file's one loss total: the ring's loss records also count lost
	// task records (COMM, FORK, EXIT), so their sum may exceed the samples
	// lost, which the statistics blocks settle exactly.
	counts.Lost = f.LostTotal()

	if !b.kpcapHasInfo(ctx) {
		return counts, nil // counted from the file alone; the report notes it
	}
	out, err := exec.CommandContext(ctx, b.kpcap, "info", "--json", trace).Output()
	if err != nil {
		return counts, fmt.Errorf("kpcap info --json: %w", errText(err))
	}
	n, lost, _, err := parseKpcapInfo(out)
	if err != nil {
		return counts, err
	}
	r.InfoCount, r.InfoLost = &n, &lost
	if n != counts.Total || lost != counts.Lost {
		return counts, fmt.Errorf("kpcap info --json says %d samples, %d lost; the file holds %d samples, %d lost", n, lost, counts.Total, counts.Lost)
	}
	return counts, nil
}

// kpcapHasInfo reports whether this kpcap build has the info command (it
// landed after record); without it counts come from the file alone.
func (b *bench) kpcapHasInfo(ctx context.Context) bool {
	if b.hasInfo == nil {
		err := exec.CommandContext(ctx, b.kpcap, "info", "--help").Run()
		ok := err == nil
		b.hasInfo = &ok
		if !ok {
			b.logf("%s has no working 'info' command (%v): kpcap counts come from reading the trace only", b.kpcap, err)
			b.report.Notes = append(b.report.Notes, "kpcap info --json was not available: kpcap's counts come from reading the trace with the format package only")
		}
	}
	return *b.hasInfo
}

func errText(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}

// analyzer is one trace reader whose speed is measured.
type analyzer struct {
	name   string
	source string // tool whose trace it reads
	args   func(trace string) []string
}

func (b *bench) analyzers(w *Workload) []analyzer {
	var as []analyzer
	perfScript := func(tr string) []string { return []string{"perf", "script", "-i", tr} }
	if hasTool(b.opts, toolPerf) {
		as = append(as, analyzer{"perf script", toolPerf, perfScript})
	}
	if hasTool(b.opts, toolPerfZ) {
		as = append(as, analyzer{"perf script (-z file)", toolPerfZ, perfScript})
	}
	if hasTool(b.opts, toolKpcap) {
		as = append(as,
			analyzer{"kpcap replay", toolKpcap, func(tr string) []string { return []string{b.kpcap, "replay", tr} }},
			analyzer{"kpcap analyze summary", toolKpcap, func(tr string) []string { return []string{b.kpcap, "analyze", "summary", "-q", tr} }})
		if len(w.Events) > 1 { // latency needs entry and exit events
			as = append(as, analyzer{"kpcap analyze latency", toolKpcap, func(tr string) []string { return []string{b.kpcap, "analyze", "latency", "-q", tr} }})
		}
	}
	return as
}

// runAnalysis times each analyzer on the newest trace of its tool, the
// analyzers alternating within each repetition.
func (b *bench) runAnalysis(ctx context.Context, w *Workload, traces map[string]string) error {
	as := b.analyzers(w)
	for _, a := range as {
		res := &Analysis{Name: a.name, Source: toolLabel(a.source)}
		tr := traces[a.source]
		if tr == "" {
			res.Error = "no trace recorded"
		} else {
			args := a.args(tr)
			res.Command = strings.Join(append([]string{filepath.Base(args[0])}, args[1:len(args)-1]...), " ") + " FILE > /dev/null"
			for _, r := range w.tool(a.source).Runs {
				if r.Counts != nil && r.Error == "" {
					res.Events = r.Counts.Total // the newest successful run's file
				}
			}
		}
		w.Analysis = append(w.Analysis, res)
	}
	for rep := 1; rep <= b.opts.Runs; rep++ {
		for i, a := range as {
			res := w.Analysis[i]
			if res.Error != "" {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			wall, cpu, err := timeCommand(ctx, a.args(traces[a.source]))
			if err != nil {
				res.Error = err.Error()
				b.logf("[%d/%d] %s %s: FAILED: %s", rep, b.opts.Runs, w.Name, a.name, err)
				b.report.Errors = append(b.report.Errors, fmt.Sprintf("%s, %s: %v", w.Name, a.name, err))
				continue
			}
			res.Seconds = append(res.Seconds, wall)
			res.CPUSeconds = append(res.CPUSeconds, cpu)
			b.logf("[%d/%d] %s %s: %.2f s (%.0f events/s)", rep, b.opts.Runs, w.Name, a.name, wall, float64(res.Events)/wall)
		}
	}
	finishAnalysis(w.Analysis)
	return nil
}

// timeCommand runs args with stdout to /dev/null and returns its wall and CPU seconds.
func timeCommand(ctx context.Context, args []string) (wall, cpu float64, err error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err == nil {
		defer devnull.Close()
		cmd.Stdout = devnull // a real fd: no copying through a pipe
	}
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(lastLines(stderr.String(), 3)))
	}
	wall = time.Since(start).Seconds()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	return wall, cpu, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// machineInfo describes this machine and the tools' versions.
func machineInfo(kpcap string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadBefore: loadAvg()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m.Kernel = utsString(u.Release[:])
	}
	if out, err := exec.Command("perf", "--version").Output(); err == nil {
		m.PerfVersion = strings.TrimSpace(string(out))
	}
	if kpcap != "" {
		if out, err := exec.Command(kpcap, "version").Output(); err == nil {
			m.KpcapVersion = strings.TrimSpace(string(out))
		}
	}
	return m
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func utsString(b []int8) string {
	s := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

// countBpftrace counts what a bpftrace run printed (see parseBpftrace).
func countBpftrace(trace, tool string, pid int) (sampleCounts, error) {
	f, err := os.Open(trace)
	if err != nil {
		return sampleCounts{}, err
	}
	defer f.Close()
	return parseBpftrace(f, tool, pid)
}
