package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplayPerfettoCLI(t *testing.T) {
	bin := buildKpcap(t)
	trace := replayTrace(t, 1000)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-o", filepath.Join(dir, "a.perfetto-trace")},
		{"--format", "perfetto", "-o", filepath.Join(dir, "b.bin")},
		{"-f", "perfetto", "--start", "syscalls:sys_enter_*", "--end", "syscalls:sys_exit_openat", "-o", filepath.Join(dir, "c.pftrace")},
	} {
		_, errs, code := runBin(t, bin, append(append([]string{"replay"}, args...), trace)...)
		if code != 0 {
			t.Fatalf("%v: code %d: %s", args, code, errs)
		}
		// 500 enter/exit pairs of one thread: 500 slices, nothing else.
		if !strings.Contains(errs, "perfetto: 500 slices of entry/return pairs, 0 CPU slices (sched_switch), 0 instants") ||
			!strings.Contains(errs, "1000 events written to") {
			t.Errorf("%v: stderr %s", args, errs)
		}
		b, err := os.ReadFile(args[len(args)-1])
		// A Trace message: packet (field 1, length-delimited) after packet.
		if err != nil || len(b) < 1000 || b[0] != 0x0a {
			t.Errorf("%v: output %d bytes, starts %x (%v)", args, len(b), b[:min(len(b), 4)], err)
		}
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"replay", "--format", "json", "--start", "a", "--end", "b", trace}, 2, "--start/--end apply to --format perfetto"},
		{[]string{"replay", "-f", "perfetto", "--start", "syscalls:sys_enter_openat", "-o", filepath.Join(dir, "x.pftrace"), trace}, 2, "--start and --end go together"},
		{[]string{"replay", "-f", "perfetto", "--start", "nope", "--end", "syscalls:sys_exit_openat", "-o", filepath.Join(dir, "y.pftrace"), trace}, 1, `no source matches "nope"`},
	} {
		_, errs, code := runBin(t, bin, c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: code %d, stderr %q; want %d and %q", c.args, code, errs, c.code, c.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "y.pftrace")); err == nil {
		t.Errorf("a failed export left its output file")
	}
}
