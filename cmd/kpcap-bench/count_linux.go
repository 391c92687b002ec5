//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/kpcap/kpcap/format"
)

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

// countBpftrace counts what a bpftrace run printed (see parseBpftrace).
func countBpftrace(trace, tool string, pid int) (sampleCounts, error) {
	f, err := os.Open(trace)
	if err != nil {
		return sampleCounts{}, err
	}
	defer f.Close()
	return parseBpftrace(f, tool, pid)
}
