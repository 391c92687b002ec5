//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requireBenchEnv skips when the benchmark cannot run here (not root, no
// perf, no go), except under CI=true where everything must run.
func requireBenchEnv(t *testing.T) {
	t.Helper()
	why := ""
	switch {
	case os.Geteuid() != 0:
		why = "needs root (system-wide tracepoint recording)"
	default:
		for _, tool := range []string{"perf", "go", "bpftrace"} {
			if _, err := exec.LookPath(tool); err != nil {
				why = tool + " not installed"
			}
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s", why)
	}
	t.Skip(why)
}

// TestQuickEndToEnd runs the whole benchmark in --quick mode against real
// perf and a freshly built kpcap, and checks the report's correctness (never
// its timings): every run succeeded, the tables are there, and kpcap recorded
// exactly the workload's getppid calls, or reported every missing one as lost.
func TestQuickEndToEnd(t *testing.T) {
	requireBenchEnv(t)
	opts, err := parseFlags([]string{"--quick"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	rep, err := runBench(ctx, opts, &progress)
	if err != nil {
		t.Fatalf("runBench: %v\nprogress:\n%s", err, progress.String())
	}
	for _, e := range rep.Errors {
		t.Errorf("run failed: %s", e)
	}
	if len(rep.Workloads) != 2 {
		t.Fatalf("got %d workloads, want 2", len(rep.Workloads))
	}
	for _, w := range rep.Workloads {
		if len(w.Tools) != len(rep.Config.Tools) || len(w.Tools) < 5 {
			t.Fatalf("%s: got %d tools, want %d (%v)", w.Name, len(w.Tools), len(rep.Config.Tools), rep.Config.Tools)
		}
		for _, tr := range w.Tools {
			if tr.Median.OK != 1 {
				t.Errorf("%s %s: %d successful runs, want 1", w.Name, tr.Tool, tr.Median.OK)
				continue
			}
			r := tr.Runs[0]
			if r.WorkloadNS <= 0 || r.PID <= 0 {
				t.Errorf("%s %s: workload result %+v", w.Name, tr.Tool, r)
			}
			if tr.Tool == toolUntraced {
				continue
			}
			c := r.Counts
			if c == nil || c.Total == 0 || c.PID == 0 || r.FileBytes <= 0 {
				t.Errorf("%s %s: counts %+v, %d bytes", w.Name, tr.Tool, c, r.FileBytes)
				continue
			}
			if c.PID > c.Total {
				t.Errorf("%s %s: %d samples of the pid > %d in the file", w.Name, tr.Tool, c.PID, c.Total)
			}
			if !isKpcap(tr.Tool) {
				continue
			}
			switch {
			case r.InfoCount == nil && len(rep.Notes) == 0:
				t.Errorf("%s %s: no kpcap info --json counts and no note why", w.Name, tr.Tool)
			case r.InfoCount == nil:
				t.Logf("%s %s: %s", w.Name, tr.Tool, strings.Join(rep.Notes, "; "))
			case *r.InfoCount != c.Total || r.InfoLost == nil || *r.InfoLost != c.Lost:
				t.Errorf("%s %s: info --json count/lost %v/%v, file %d/%d", w.Name, tr.Tool, *r.InfoCount, r.InfoLost, c.Total, c.Lost)
			}
			switch {
			case w.Exact && c.Lost == 0 && c.PID != w.Expected:
				t.Errorf("%s %s: recorded %d, lost 0, want exactly %d", w.Name, tr.Tool, c.PID, w.Expected)
			case w.Exact && (c.PID > w.Expected || c.PID+c.Lost < w.Expected):
				t.Errorf("%s %s: recorded %d + lost %d does not account for %d calls", w.Name, tr.Tool, c.PID, c.Lost, w.Expected)
			case !w.Exact && c.PID+c.Lost < w.Expected:
				t.Errorf("%s %s: recorded %d + lost %d < %d calls", w.Name, tr.Tool, c.PID, c.Lost, w.Expected)
			}
			if c.Duplicates != 0 {
				t.Errorf("%s %s: %d duplicate samples", w.Name, tr.Tool, c.Duplicates)
			}
		}
		for _, a := range w.Analysis {
			if a.Error != "" || len(a.Seconds) != 1 || a.Events == 0 {
				t.Errorf("%s %s: %+v", w.Name, a.Name, a)
			}
		}
	}
	if len(rep.Targets) == 0 {
		t.Error("no targets evaluated")
	}
	var md bytes.Buffer
	writeMarkdown(&md, rep)
	for _, s := range []string{"### getppid", "### openat", "| workload slowdown |", "| kpcap replay |", "### Targets"} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("markdown lacks %q", s)
		}
	}
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("JSON round trip: %v", err)
	}
	if t.Failed() {
		t.Logf("progress:\n%s\nreport:\n%s", progress.String(), md.String())
	}
}

func TestRotated(t *testing.T) {
	tools := []string{"untraced", "perf", "perf-z", "kpcap"}
	for k, want := range []string{"untraced perf perf-z kpcap", "perf perf-z kpcap untraced", "perf-z kpcap untraced perf", "kpcap untraced perf perf-z", "untraced perf perf-z kpcap"} {
		if got := strings.Join(rotated(tools, k), " "); got != want {
			t.Errorf("rotated by %d: %q, want %q", k, got, want)
		}
	}
	if tools[0] != "untraced" {
		t.Errorf("rotated changed its input: %v", tools)
	}
	if len(rotated([]string(nil), 3)) != 0 {
		t.Error("rotated of nothing")
	}
}

// TestSpinnerKeepsCPUBusy starts the busy runs' spinning process and checks
// that it runs on the last CPU, using it, until stopped.
func TestSpinnerKeepsCPUBusy(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but go not installed")
		}
		t.Skip("go not installed")
	}
	b := &bench{progress: io.Discard, workload: filepath.Join(t.TempDir(), "workload")}
	ctx := context.Background()
	if err := goBuild(ctx, b.workload, "github.com/kpcap/kpcap/cmd/kpcap-bench/internal/workload"); err != nil {
		t.Fatal(err)
	}
	pid, stop, err := b.startSpinner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	time.Sleep(500 * time.Millisecond)
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command's closing parenthesis: state is the 1st,
	// utime the 12th, processor the 37th.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, _ := strconv.Atoi(f[11])
	cpu, _ := strconv.Atoi(f[36])
	if want := runtime.NumCPU() - 1; cpu != want {
		t.Errorf("spinner on CPU %d, want %d", cpu, want)
	}
	if utime == 0 {
		t.Errorf("spinner used no CPU time in 500 ms (stat %q)", stat)
	}
	stop()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("spinner %d still runs after stop", pid)
	}
}
