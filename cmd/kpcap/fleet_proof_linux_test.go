//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/format"
)

// runLong runs kpcap with a limit fit for a 200-trace analysis on a
// loaded machine and fails the test on a non-zero exit.
func runLong(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("kpcap %s: %v\n%s", strings.Join(args, " "), err, e.String())
	}
	return o.String()
}

// recordWorkload records openat and read syscalls (with kernel stacks) of a
// shell loop of cat runs on this machine.
func recordWorkload(t *testing.T, bin, out string) {
	t.Helper()
	cmd := exec.Command(bin, "record", "-q", "-g", "-o", out,
		"-e", "syscalls:sys_enter_openat", "-e", "syscalls:sys_exit_openat",
		"-e", "syscalls:sys_enter_read", "-e", "syscalls:sys_exit_read",
		"--", "/bin/sh", "-c", "i=0; while [ $i -lt 40 ]; do cat /etc/hostname /etc/passwd /proc/self/stat >/dev/null; i=$((i+1)); done")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kpcap record: %v\n%s", err, b)
	}
	f, err := format.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n uint64
	for _, fr := range f.Frames {
		n += fr.Samples
	}
	if n < 200 || f.LostTotal() > 0 {
		t.Fatalf("recording has %d samples, %d lost; want at least 200 and no loss", n, f.LostTotal())
	}
}

// TestFleetProof is the fleet comparison's proof: 200 traces, 100 hosts
// on "6.1" and 100 on "6.12", built from the committed 6.1 and 6.12
// recordings, a recording made here and generated hosts. Host i of the
// new kernel is host i of the old one (the same recording, the same speed
// factor) with a known latency shift on openat (syscall:openat and
// do_sys_openat2 pairs, +20µs each), so that the shift is the only true
// difference: diff --a --b must flag both shifted functions, with the
// right size, and nothing else (no other function's latency or rate, no
// source's rate, no stack's share). The same fleet exported as a dataset
// gives DuckDB the per-kernel calls, p50 and p99 kpcap computes.
func TestFleetProof(t *testing.T) {
	recordNeedRoot(t)
	bin := buildKpcap(t)
	dir := t.TempDir()
	const perKernel, shift = 100, 20_000
	recorded := filepath.Join(dir, "recorded.pcapng.zst")
	recordWorkload(t, bin, recorded)
	bases := []string{
		filepath.Join("..", "..", "testdata", "kernels", "openat-6.1.pcapng.zst"),
		filepath.Join("..", "..", "testdata", "kernels", "openat-6.12.pcapng.zst"),
		recorded,
	}
	for i := 0; i < perKernel/4; i++ {
		p := filepath.Join(dir, fmt.Sprintf("gen-%02d.pcapng.zst", i))
		writeTraces(t, traceJob{FleetHost: &fleetHostSpec{p, fleetHost{Host: "gen", Kernel: "gen", Calls: 150, Seed: uint64(100 + i)}}})
		bases = append(bases, p)
	}
	oldDir, newDir := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	for _, d := range []string{oldDir, newDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	shifted := []string{"syscalls:sys_exit_openat", "kprobes:openat2_ret"}
	rng := rand.New(rand.NewPCG(16, 1))
	var jobs []traceJob
	for i := 0; i < perKernel; i++ {
		base := bases[i%3]
		if i%4 == 3 {
			base = bases[3+i/4]
		}
		scale := 0.95 + 0.1*rng.Float64()
		jobs = append(jobs,
			traceJob{RewriteShifted: &rewriteShiftedSpec{Src: base, Dst: filepath.Join(oldDir, fmt.Sprintf("a-%03d.pcapng.zst", i)),
				Host: fmt.Sprintf("a-%03d", i), Kernel: kernelOld, Scale: scale}},
			traceJob{RewriteShifted: &rewriteShiftedSpec{Src: base, Dst: filepath.Join(newDir, fmt.Sprintf("b-%03d.pcapng.zst", i)),
				Host: fmt.Sprintf("b-%03d", i), Kernel: kernelNew, Scale: scale, Shift: shift, ShiftReturns: shifted}})
	}
	writeTraces(t, jobs...)
	globs := []string{filepath.Join(oldDir, "*.zst"), filepath.Join(newDir, "*.zst")}

	var d analyze.GroupDiff
	if err := json.Unmarshal([]byte(runLong(t, bin, "analyze", "diff", "--json", "-q", "--a", globs[0], "--b", globs[1])), &d); err != nil {
		t.Fatal(err)
	}
	if d.A.Traces != perKernel || d.B.Traces != perKernel || d.A.Hosts != perKernel || d.B.Hosts != perKernel {
		t.Fatalf("groups: A %+v, B %+v", d.A, d.B)
	}
	found := map[string]bool{}
	for _, f := range d.Functions {
		found[f.Name] = true
		if shifted := f.Name == "syscall:openat" || f.Name == "do_sys_openat2"; shifted {
			// Host i's every openat is exactly shift longer on the new
			// kernel, so each host median, and their median, moves by it.
			moved := int64(f.B.HostMedian) - int64(f.A.HostMedian)
			if !f.Significant || moved != shift || f.B.P50-f.A.P50 != shift {
				t.Errorf("%s: shift of %d ns not found: median of host medians moved %d ns, p %v", f.Name, shift, moved, f.PValue)
			}
		} else if f.Significant {
			t.Errorf("%s: latency flagged (p %v, %v -> %v) but only openat moved", f.Name, f.PValue, f.A.HostMedian, f.B.HostMedian)
		}
		if f.RateSignificant {
			t.Errorf("%s: call rate flagged (p %v, %+v) but rates did not change", f.Name, f.RatePValue, f.RateChangePct)
		}
	}
	if !found["syscall:openat"] || !found["do_sys_openat2"] || !found["syscall:read"] {
		t.Errorf("functions compared: %+v", d.Functions)
	}
	if len(d.Sources) < 8 || len(d.Stacks) == 0 {
		t.Errorf("%d sources and %d stacks compared; want the 8 sources and some stacks", len(d.Sources), len(d.Stacks))
	}
	for _, s := range d.Sources {
		if s.Significant {
			t.Errorf("source %s: rate flagged (p %v, %v -> %v/s)", s.Name, s.PValue, s.A.HostMedian, s.B.HostMedian)
		}
	}
	for _, s := range d.Stacks {
		if s.Significant {
			t.Errorf("stack %s: share flagged (p %v, %.3f -> %.3f %%)", s.Stack, s.PValue, s.HostMedianA, s.HostMedianB)
		}
	}

	// The dataset of the same fleet answers the per-kernel question in
	// DuckDB with kpcap's numbers.
	ds := filepath.Join(dir, "dataset")
	runLong(t, bin, append([]string{"export", "-q", ds}, globs...)...)
	var l analyze.Latency
	if err := json.Unmarshal([]byte(runLong(t, bin, append([]string{"analyze", "latency", "--by", "kernel", "--json", "-q"}, globs...)...)), &l); err != nil {
		t.Fatal(err)
	}
	glob := filepath.ToSlash(ds) + "/events/*/*/*/*.parquet"
	pairs := []struct{ fn, enter, exit string }{
		{"syscall:openat", "syscalls:sys_enter_openat", "syscalls:sys_exit_openat"},
		{"do_sys_openat2", "kprobes:openat2", "kprobes:openat2_ret"},
	}
	var qs []string
	for _, p := range pairs {
		qs = append(qs, latencySQL(glob, p.enter, p.exit))
	}
	res := duckQuery(t, qs...)
	for i, p := range pairs {
		want := map[string]*analyze.FuncLatency{}
		for _, f := range l.Functions {
			if f.Name == p.fn {
				want[f.Group] = f
			}
		}
		if len(res[i]) != 2 || len(want) != 2 {
			t.Fatalf("%s: DuckDB %v, kpcap %d kernels", p.fn, res[i], len(want))
		}
		for _, row := range res[i] {
			f := want[row["kernel"].(string)]
			if f == nil || !f.Exact {
				t.Fatalf("%s: kernel %v not in kpcap's output (or not exact)", p.fn, row["kernel"])
			}
			got := fmt.Sprintf("%v %v %v", row["calls"], row["p50"], row["p99"])
			if exp := fmt.Sprintf("%d %d %d", f.Count, f.P50, f.P99); got != exp {
				t.Errorf("%s %s: DuckDB calls/p50/p99 %s, kpcap %s", p.fn, row["kernel"], got, exp)
			}
		}
	}
}
