//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRecordBadEventSpec: a malformed -e is a command-line mistake (exit 2)
// reported like a malformed probe: the spec, then a caret under the bad
// token. The check comes before anything touches the kernel, so it needs no
// root and creates no file.
func TestRecordBadEventSpec(t *testing.T) {
	bin := buildKpcap(t)
	out := filepath.Join(t.TempDir(), "t.pcapng.zst")
	for _, tc := range []struct {
		spec, msg, caret string
	}{
		{"syscalls:[", "no ']' closes", "         ^"},
		{"syscalls:sys_enter_[ab", "no ']' closes", "                   ^~~"},
		{"sched:[]", "empty character class", "      ^~"},
		{`sys*:sys_enter_\`, `'\' at the end escapes nothing`, "               ^"},
		{":foo", "missing subsystem before ':'", "^"},
		{":", "missing subsystem before ':'", "^"},
		{"sched:", "missing event name after ':'", "     ^"},
		{"", "empty: want SUBSYS:EVENT", "^"},
		{"sched:sched_switch,", "give each tracepoint on its own (-e A -e B)", "                  ^"},
		{"sched:sched_switch,sched:sched_wakeup", "give each tracepoint on its own (-e A -e B)", "                  ^"},
		{"a:b:c", "second ':'", "   ^"},
		{"sched_switch", "missing ':' between subsystem and event", "^~~~~~~~~~~~"},
		{"p:myopen do_sys_openat2", "goes to -p", "        ^"},
		{"sched:a\x1b[2J", "control character 0x1b", "       ^"},
	} {
		r := runCLI(t, bin, "record", "-q", "-d", "1s", "-o", out, "-e", "sched:sched_switch", "-e", tc.spec)
		lines := strings.Split(r.stderr, "\n")
		if r.code != 2 || len(lines) < 3 || !strings.Contains(lines[0], "kpcap record: bad tracepoint ") ||
			!strings.Contains(lines[0], tc.msg) || lines[2] != tc.caret {
			t.Errorf("kpcap record -e %q: exit %d, stderr\n%s\nwant exit 2, %q and the caret line %q", tc.spec, r.code, r.stderr, tc.msg, tc.caret)
		}
		if strings.ContainsRune(r.stderr, 0x1b) {
			t.Errorf("kpcap record -e %q: raw escape byte in stderr %q", tc.spec, r.stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("kpcap record -e %q created %s", tc.spec, out)
		}
	}
	// A malformed probe type is reported the same way.
	r := runCLI(t, bin, "record", "-q", "-d", "1s", "-o", out, "-p", "q do_sys_openat2")
	if lines := strings.Split(r.stderr, "\n"); r.code != 2 || len(lines) < 3 || !strings.Contains(lines[0], "bad probe") || lines[2] != "^" {
		t.Errorf("kpcap record -p 'q do_sys_openat2': exit %d, stderr\n%s", r.code, r.stderr)
	}
}

func TestParseSecondsOrDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"1", time.Second, ""},
		{"0.5", 500 * time.Millisecond, ""},
		{".25", 250 * time.Millisecond, ""},
		{"2.", 2 * time.Second, ""},
		{" 10 ", 10 * time.Second, ""},
		{"0", 0, ""},
		{"10s", 10 * time.Second, ""},
		{"500ms", 500 * time.Millisecond, ""},
		{"1m30s", 90 * time.Second, ""},
		{"1ns", time.Nanosecond, ""},
		{"", 0, "is not a duration"},
		{"1x", 0, "is not a duration: want e.g. 10s"},
		{"-1", 0, "is not a duration"},
		{"-1s", 0, "cannot be negative"},
		{"1e3", 0, "is not a duration"},
		{"inf", 0, "is not a duration"},
		{"NaN", 0, "is not a duration"},
		{"0x10", 0, "is not a duration"},
		{"1.2.3", 0, "is not a duration"},
		{".", 0, "is not a duration"},
		{"0.0000000001", 0, "shorter than a nanosecond"},
		{"0.000000001", time.Nanosecond, ""},
		{"9223372037", 0, "too long"},
		{"99999999999999999999", 0, "too long"},
	} {
		got, err := parseSecondsOrDuration(tc.in)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("parseSecondsOrDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("parseSecondsOrDuration(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
		}
	}
}

// TestRecordDurationSeconds: -d 1 records for one second, as timeout 1 would
// run, rather than for one nanosecond; -d with a bad value is a usage error
// that shows the accepted forms.
func TestRecordDurationSeconds(t *testing.T) {
	bin := buildKpcap(t)
	out := filepath.Join(t.TempDir(), "t.pcapng.zst")
	r := runCLI(t, bin, "record", "-q", "-d", "1x", "-o", out, "-e", "sched:sched_switch")
	if r.code != 2 || !strings.Contains(r.stderr, "want e.g. 10s, 500ms, 5m, 1m30s, or a number of seconds") {
		t.Errorf("-d 1x: exit %d, stderr %q", r.code, r.stderr)
	}
	recordNeedRoot(t)
	r = runCLI(t, bin, "record", "-q", "--json", "-d", "1", "-o", out, "-e", "syscalls:sys_enter_getppid")
	if r.code != 0 {
		t.Fatalf("-d 1: exit %d: %s", r.code, r.stderr)
	}
	var res struct {
		Elapsed time.Duration `json:"elapsed_ns"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("--json: %v: %s", err, r.stdout)
	}
	// A lower bound only: the timer cannot fire early, and 1ns or 1ms would be far below.
	if res.Elapsed < 900*time.Millisecond {
		t.Errorf("-d 1 recorded for %v, want one second", res.Elapsed)
	}
}
