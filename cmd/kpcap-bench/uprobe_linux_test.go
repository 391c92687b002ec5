//go:build linux

package main

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"
)

// TestUprobeWorkload runs the uprobe workload once under both kpcap paths
// (a uprobe on the workload's main.probeTarget, given to kpcap record as
// -p) and checks that each recorded every call exactly and that perf,
// which would need its own probe, is left out.
func TestUprobeWorkload(t *testing.T) {
	requireBenchEnv(t)
	opts, err := parseFlags([]string{"--runs", "1", "--events", "20000", "--workloads", "uprobe",
		"--tools", "untraced,perf,kpcap,kpcap-bpf", "--no-analysis"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	rep, err := runBench(ctx, opts, &progress)
	if err != nil {
		t.Fatalf("runBench: %v\nprogress:\n%s", err, progress.String())
	}
	if len(rep.Workloads) != 1 {
		t.Fatalf("%d workloads", len(rep.Workloads))
	}
	w := rep.Workloads[0]
	var tools []string
	for _, tr := range w.Tools {
		tools = append(tools, tr.Tool)
	}
	if !slices.Equal(tools, []string{toolUntraced, toolKpcap, toolKpcapBPF}) {
		t.Fatalf("tools %v, want untraced and kpcap's two paths", tools)
	}
	if w.Expected != 1000 || !w.Exact {
		t.Fatalf("expected %d events (exact %v), want exactly 1000", w.Expected, w.Exact)
	}
	for _, tr := range w.Tools[1:] {
		r := tr.Runs[0]
		if r.Error != "" || r.Counts == nil || r.Counts.PID != w.Expected || r.Counts.Lost != 0 {
			t.Errorf("%s: %+v counts %+v\nprogress:\n%s", tr.Tool, r, r.Counts, progress.String())
		}
	}
}
