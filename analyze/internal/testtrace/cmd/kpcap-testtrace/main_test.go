package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/analyze/internal/testtrace"
	"github.com/kpcap/kpcap/format"
)

// TestJobsWriteTheSameTraces checks that every kind of job writes, byte for
// byte, the trace the testtrace call it stands for writes.
func TestJobsWriteTheSameTraces(t *testing.T) {
	d := t.TempDir()
	at := func(name string) string { return filepath.Join(d, name) }
	testtrace.Openat(t, at("openat.want"), "6.1", ".isra.0", 500, 3, 11)
	testtrace.WriteFleetHost(t, at("fleet.want"), testtrace.FleetHost{Host: "h", Kernel: "k", Calls: 100, Seed: 7, OpenatShift: 600})
	testtrace.RewriteShifted(t, at("openat.want"), at("shifted.want"), testtrace.RewriteOptions{Host: "x", Kernel: "y", Scale: 1.03, Shift: 20000,
		ShiftReturn: func(s string) bool { return s == "syscalls:sys_exit_openat" }})
	testtrace.Rewrite(t, at("openat.want"), at("rewrite.want"), "zz")
	g := testtrace.NewInSet(t, at("set.want"), "6.1.0", []testtrace.Source{
		{Src: format.Source{Name: "syscalls:sys_enter_openat", Kind: format.KindTracepoint, Definition: "syscalls:sys_enter_openat"}, Format: "sys_enter_openat"},
	}, &format.SetInfo{ID: "feed", Seq: 2, Mode: "rotate", StartNS: 5})
	g.W.AddComm(format.Comm{PID: 9, TID: 9, Time: 3, Comm: "cat"})
	g.Sample(0, 1000, 0, 9, 9, map[string]any{"__syscall_nr": 257, "dfd": -100, "filename": 0x7ffe0000, "flags": 0}, []uint64{testtrace.CtxKernel, 0xffffffff81003010})
	g.W.AddLost(format.Lost{Time: 5000, CPU: 0, Source: 0, Count: 3})
	g.W.SetEnd(1_000_000)
	g.Close(map[uint32]uint64{0: 2})

	jobs := `{"openat": {"path": "D/openat.got", "kernel": "6.1", "suffix": ".isra.0", "n": 500, "slow": 3, "lost": 11}}
{"fleet_host": {"path": "D/fleet.got", "host": {"host": "h", "kernel": "k", "calls": 100, "seed": 7, "openatshift": 600}}}
{"rewrite_shifted": {"src": "D/openat.want", "dst": "D/shifted.got", "host": "x", "kernel": "y", "scale": 1.03, "shift": 20000, "shift_returns": ["syscalls:sys_exit_openat"]}}
{"rewrite": {"src": "D/openat.want", "dst": "D/rewrite.got", "host": "zz"}}
{"trace": {"path": "D/set.got", "kernel": "6.1.0",
	"sources": [{"src": {"name": "syscalls:sys_enter_openat", "kind": 1, "definition": "syscalls:sys_enter_openat"}, "format": "sys_enter_openat"}],
	"set": {"id": "feed", "seq": 2, "mode": "rotate", "start_ns": 5},
	"ops": [{"comm": {"pid": 9, "tid": 9, "time": 3, "comm": "cat"}},
		{"sample": {"source": 0, "time": 1000, "cpu": 0, "pid": 9, "tid": 9,
			"fields": {"__syscall_nr": 257, "dfd": -100, "filename": 2147352576, "flags": 0},
			"callchain": [18446744073709551488, 18446744071578857488]}},
		{"lost": {"time": 5000, "cpu": 0, "source": 0, "count": 3}},
		{"end": 1000000}],
	"dropped": {"0": 2}}}
`
	if err := runJobs(strings.NewReader(strings.ReplaceAll(jobs, "D/", filepath.ToSlash(d)+"/")), t); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"openat", "fleet", "shifted", "rewrite", "set"} {
		want, err := os.ReadFile(at(name + ".want"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(at(name + ".got"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the job wrote %d bytes unlike testtrace's %d", name, len(got), len(want))
		}
	}
}

// TestJobErrors checks that a job naming nothing or a bad field value is
// refused.
func TestJobErrors(t *testing.T) {
	d := filepath.ToSlash(t.TempDir())
	for _, in := range []string{
		`{}`,
		`{"trace": {"path": "` + d + `/t", "kernel": "k", "ops": [{}]}}`,
		`{"trace": {"path": "` + d + `/t", "kernel": "k", "sources": [{"src": {"name": "a:b", "kind": 1}, "format": "sys_enter_openat"}], "ops": [{"sample": {"fields": {"dfd": 1.5}}}]}}`,
	} {
		if err := runJobs(strings.NewReader(in), t); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}
