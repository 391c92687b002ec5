//go:build linux

package main

import (
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

func (b *bench) specs() []workloadSpec {
	var out []workloadSpec
	for _, w := range b.opts.Workloads {
		switch w {
		case "getppid":
			out = append(out, workloadSpec{"getppid", b.opts.Events, []string{"syscalls:sys_enter_getppid"}, 1, true, false, false})
		case "openat":
			// The Go runtime opens a few files at startup: the count is a lower bound.
			out = append(out, workloadSpec{"openat", b.opts.OpenatCalls, []string{"syscalls:sys_enter_openat", "syscalls:sys_exit_openat"}, 2, false, false, false})
		case "uprobe":
			// A uprobe hit costs microseconds: a twentieth of the calls.
			probe := "p " + b.workload + ":main.probeTarget"
			out = append(out, workloadSpec{"uprobe", max(b.opts.Events/20, 1), []string{probe}, 1, true, false, true})
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
				if note := baselineNote(w); note != "" {
					b.report.Notes = append(b.report.Notes, note)
				}
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
		if !spec.supports(t) {
			continue
		}
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
