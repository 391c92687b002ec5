//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kpcap/kpcap/record"
)

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
		a := []string{kpcap, "record", "-o", out, "--path", "bpf"}
		if tool == toolKpcap {
			a[len(a)-1] = "perf"
		}
		for _, e := range spec.events {
			a = append(a, spec.eventFlag(), e)
		}
		return a
	case toolKpcapSnap:
		// The perf path, as the plain recording it is held to.
		a := []string{kpcap, "record", "--path", "perf", "--snapshot", snapshotWindow, "-o", out}
		for _, e := range spec.events {
			a = append(a, spec.eventFlag(), e)
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
