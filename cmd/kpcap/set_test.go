package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// TestReadSet reads the files of a rotated set, one of them missing, as one
// trace: openat calls whose entry is in one file and whose return is in the
// next still pair, loss is counted per file and in total, the missing file
// is stated. Arguments may be the files, a quoted glob or the directory.
func TestReadSet(t *testing.T) {
	bin := buildKpcap(t)
	dir := t.TempDir()
	srcs := []traceSource{
		{Src: format.Source{Name: "syscalls:sys_enter_openat", Kind: format.KindTracepoint, Definition: "syscalls:sys_enter_openat"}, Format: "sys_enter_openat"},
		{Src: format.Source{Name: "syscalls:sys_exit_openat", Kind: format.KindTracepoint, Definition: "syscalls:sys_exit_openat"}, Format: "sys_exit_openat"},
	}
	// File k holds calls 100k .. 100k+99; each call's return lands 1 µs
	// later, and the last call of each file returns in the next one.
	const calls = 100
	var paths []string
	for seq := 1; seq <= 4; seq++ {
		start := uint64(seq) * 1_000_000_000
		path := filepath.Join(dir, format.SetFileName("t.pcapng.zst", seq))
		g := newTraceInSet(t, path, "6.1.0", srcs, &format.SetInfo{ID: "feed", Seq: seq, Mode: "rotate", StartNS: start})
		g.AddComm(format.Comm{PID: 9, TID: 9, Time: start, Comm: "cat"})
		if seq > 1 { // the call left open by the previous file returns here
			g.Sample(1, start+500, 0, 9, 9, map[string]any{"__syscall_nr": 257, "ret": 3}, nil)
		}
		for i := range calls {
			ts := start + 1000 + uint64(i)*10_000
			g.Sample(0, ts, 0, 9, 9, map[string]any{"__syscall_nr": 257, "dfd": -100, "filename": 0x7ffe0000, "flags": 0}, nil)
			if i < calls-1 || seq == 4 {
				g.Sample(1, ts+1000, 0, 9, 9, map[string]any{"__syscall_nr": 257, "ret": 3}, nil)
			}
		}
		g.AddLost(format.Lost{Time: start + 5000, CPU: 0, Source: 0, Count: uint64(seq)}) // between two calls
		g.SetEnd(start + 1_000_000_000)
		g.Close(map[uint32]uint64{0: uint64(seq)})
		if seq != 3 {
			paths = append(paths, path)
		}
	}
	// File 3 is gone: a gap in the set.
	if err := os.Remove(filepath.Join(dir, format.SetFileName("t.pcapng.zst", 3))); err != nil {
		t.Fatal(err)
	}
	glob := filepath.Join(dir, "t-000[124].pcapng.zst")

	for _, args := range [][]string{paths, {glob}} {
		r := runCLI(t, bin, append([]string{"info", "--json"}, args...)...)
		if r.code != 0 {
			t.Fatalf("info %v: %d %s", args, r.code, r.stderr)
		}
		var info infoJSON
		if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
			t.Fatal(err)
		}
		if info.Events != 600 || len(info.Files) != 3 || info.Lost != 1+2+4 || len(info.Gaps) != 1 || len(info.Gaps[0].Missing) != 1 || info.Gaps[0].Missing[0] != 3 {
			t.Errorf("info %v: files %+v lost %d gaps %+v", args, info.Files, info.Lost, info.Gaps)
		}
		for i, f := range info.Files {
			if f.Lost != uint64([]int{1, 2, 4}[i]) {
				t.Errorf("file %s: lost %d", f.Path, f.Lost)
			}
		}
	}
	var lat struct {
		Functions []struct {
			Name  string `json:"name"`
			Count uint64 `json:"count"`
			Max   uint64 `json:"max_ns"`
		} `json:"latency"`
		UnmatchedEntries uint64   `json:"unmatched_entries"`
		UnmatchedReturns uint64   `json:"unmatched_returns"`
		AcrossGap        uint64   `json:"across_gap"`
		Lost             uint64   `json:"lost"`
		Traces           int      `json:"traces"`
		Warnings         []string `json:"warnings"`
	}
	// The set's directory, its files or a glob of them: one trace, told
	// by the files' set blocks.
	for _, args := range [][]string{{dir}, paths, {glob}} {
		r := runCLI(t, bin, append([]string{"analyze", "latency", "--json", "--unit", "ns"}, args...)...)
		if r.code != 0 {
			t.Fatalf("latency %v: %d %s", args, r.code, r.stderr)
		}
		lat.Warnings = nil
		if err := json.Unmarshal([]byte(r.stdout), &lat); err != nil {
			t.Fatal(err)
		}
		// Pairs: 99 within each file, and the call left open at the end of
		// file 1 returns at the start of file 2. The call open at the end of
		// file 2 returned in the missing file 3, and file 4's first return
		// belongs to a call of file 3: that pair is not made (across the
		// gap). File 4 closes its own last call: 99*3 + 2.
		if len(lat.Functions) != 1 || lat.Functions[0].Count != 299 || lat.Functions[0].Max != 999_009_500 || lat.Lost != 7 ||
			lat.AcrossGap != 1 || lat.UnmatchedEntries != 1 || lat.UnmatchedReturns != 1 || lat.Traces != 0 ||
			!strings.Contains(strings.Join(lat.Warnings, "\n"), "file 3 of the set is missing") {
			t.Errorf("latency %v: %+v", args, lat)
		}
		r = runCLI(t, bin, append([]string{"analyze", "summary", "--json"}, args...)...)
		if r.code != 0 || !strings.Contains(r.stdout, "file 3 of the set is missing") {
			t.Errorf("summary %v: exit %d, %s %s", args, r.code, r.stdout, r.stderr)
		}
	}
	r := runCLI(t, bin, "analyze", "latency", "--unit", "ns", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "1 entries not paired across a gap") {
		t.Errorf("latency text: exit %d, %s %s", r.code, r.stdout, r.stderr)
	}
	// Another trace among the set's files makes two traces (many traces
	// merge; each is one trace of its own).
	other := filepath.Join(t.TempDir(), "other.pcapng.zst")
	g := newTrace(t, other, "6.1.0", srcs)
	g.Sample(0, 5000, 0, 9, 9, map[string]any{"__syscall_nr": 257, "dfd": -100, "filename": 0x7ffe0000, "flags": 0}, nil)
	g.Sample(1, 6000, 0, 9, 9, map[string]any{"__syscall_nr": 257, "ret": 3}, nil)
	g.Close(nil)
	r = runCLI(t, bin, append([]string{"analyze", "latency", "--json", "--unit", "ns", other}, paths...)...)
	if r.code != 0 {
		t.Fatalf("latency of two traces: %d %s", r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), &lat); err != nil {
		t.Fatal(err)
	}
	if lat.Traces != 2 || len(lat.Functions) != 1 || lat.Functions[0].Count != 300 || lat.AcrossGap != 1 {
		t.Errorf("latency of two traces: %+v", lat)
	}
	r = runCLI(t, bin, "replay", dir)
	if r.code != 0 || strings.Count(r.stdout, "\n") != 600 || !strings.Contains(r.stderr, "file 3 of the set is missing") {
		t.Errorf("replay of the directory: %d lines, exit %d, stderr %s", strings.Count(r.stdout, "\n"), r.code, r.stderr)
	}
}

// TestInfoLeadingGap reads a set whose first file was deleted: info says
// what is missing before the first file kept, not from time 0.
func TestInfoLeadingGap(t *testing.T) {
	bin := buildKpcap(t)
	dir := t.TempDir()
	srcs := []traceSource{{Src: format.Source{Name: "syscalls:sys_enter_openat", Kind: format.KindTracepoint, Definition: "syscalls:sys_enter_openat"}, Format: "sys_enter_openat"}}
	for seq := 2; seq <= 3; seq++ {
		start := uint64(seq) * 1_000_000_000
		g := newTraceInSet(t, filepath.Join(dir, format.SetFileName("t.pcapng.zst", seq)), "6.1.0", srcs, &format.SetInfo{ID: "feed", Seq: seq, Mode: "rotate", StartNS: start})
		g.Sample(0, start+1000, 0, 9, 9, map[string]any{"__syscall_nr": 257, "dfd": -100, "filename": 0x7ffe0000, "flags": 0}, nil)
		g.SetEnd(start + 1_000_000_000)
		g.Close(nil)
	}
	r := runCLI(t, bin, "info", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "before 2.000000 s: file 1 missing") || strings.Contains(r.stdout, "0.000000 to") {
		t.Errorf("info: code %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}
