//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

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
