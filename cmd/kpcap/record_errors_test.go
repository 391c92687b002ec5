//go:build linux

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestRecordErrorMessages runs kpcap record the way people get it wrong and
// checks for an exit code and a message that says what to fix.
func TestRecordErrorMessages(t *testing.T) {
	recordNeedRoot(t)
	bin := buildKpcap(t)
	out := filepath.Join(t.TempDir(), "t.pcapng.zst")
	for _, tc := range []struct {
		args []string
		code int
		msg  []string
	}{
		// The kernel answers only EINVAL: the caret comes from kpcap's own parser.
		{[]string{"-e", "syscalls:sys_enter_openat", "--filter", "flags = 1"}, 2,
			[]string{"rejected by the kernel", "unexpected character '=' at column 7\n  flags = 1\n        ^"}},
		{[]string{"-e", "syscalls:sys_enter_openat", "--filter", "(flags == 1"}, 2, []string{"want ')' at column 12"}},
		// Valid syntax, wrong types: the fields of the event are listed instead.
		{[]string{"-e", "syscalls:sys_enter_openat", "--filter", `flags ~ "x*"`}, 2, []string{"has fields", "filename, flags"}},
		// An unknown tracepoint is a command-line mistake: exit 2, with suggestions.
		{[]string{"-e", "sched:sched_swich"}, 2, []string{"did you mean sched:sched_switch?"}},
		{[]string{"-e", "syscall:sys_enter_openat"}, 2, []string{"did you mean syscalls:sys_enter_openat?"}},
		{[]string{"-e", "syscalls:sys_enter_opnat*"}, 2, []string{"did you mean syscalls:sys_enter_openat"}},
		{[]string{"-p", "p " + bin + ":0x99999999"}, 1, []string{"offset 0x99999999 is beyond the end of " + bin}},
		{[]string{"-e", "sched:sched_switch", "-o", "-"}, 2, []string{`-o "-": kpcap record writes a file, not a pipe`}},
		// Two probes with one name are a usage error; overlapping tracepoint patterns are not (below).
		{[]string{"-p", "p " + bin + ":main.main", "-p", "p " + bin + ":main.main a=%di"}, 2, []string{"uprobes:p_kpcap_main_main given twice"}},
	} {
		r := runCLI(t, bin, append([]string{"record", "-q", "-d", "1s", "-o", out}, tc.args...)...)
		if r.code != tc.code {
			t.Errorf("kpcap record %q: exit %d, want %d; stderr %q", tc.args, r.code, tc.code, r.stderr)
		}
		for _, m := range tc.msg {
			if !strings.Contains(r.stderr, m) {
				t.Errorf("kpcap record %q: stderr %q lacks %q", tc.args, r.stderr, m)
			}
		}
	}

	// -e 'sched:sched_process_e*' -e sched:sched_process_exit record the tracepoint once, as perf does.
	r := runCLI(t, bin, "record", "-q", "-d", "300ms", "-o", out, "-e", "sched:sched_process_e*", "-e", "sched:sched_process_exit")
	if r.code != 0 {
		t.Fatalf("overlapping -e patterns: exit %d: %s", r.code, r.stderr)
	}
	r = runCLI(t, bin, "info", "--json", out)
	var info struct {
		Probes []struct{ Name string } `json:"probes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("info --json: %v: %s", err, r.stdout)
	}
	n := 0
	for _, p := range info.Probes {
		if p.Name == "sched:sched_process_exit" {
			n++
		}
	}
	if n != 1 || len(info.Probes) < 2 {
		t.Errorf("overlapping -e patterns gave sources %+v, want sched:sched_process_exit once", info.Probes)
	}
}

// TestRecordNonRoot runs kpcap record as nobody: it must say why it cannot
// record (root, tracefs) and exit 1, without creating the output.
func TestRecordNonRoot(t *testing.T) {
	recordNeedRoot(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: setpriv (util-linux) is needed to run kpcap as nobody")
		}
		t.Skip("setpriv not installed")
	}
	bin := buildKpcap(t)
	dir := filepath.Dir(bin)
	// nobody runs bin and may write beside it (t.TempDir and its parent are 0700).
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "t.pcapng.zst")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-e", "sched:sched_switch", "-d", "1s"}, "needs root"},
		// A probe without fetchargs still needs tracefs when events must follow forks.
		{[]string{"-p", "p " + bin + ":main.main", "--", "/bin/true"}, "needs tracefs for events that follow forks"},
	} {
		args := append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", bin, "record", "-q", "-o", out}, tc.args...)
		r := runCLI(t, setpriv, args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("kpcap record %q as nobody: exit %d, stderr %q; want exit 1 and %q", tc.args, r.code, r.stderr, tc.msg)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("kpcap record %q as nobody created %s", tc.args, out)
		}
	}
}

// TestRecordCommandOutlivesCapture checks that when the recording ends before
// its command (-d here), the summary says the command still runs.
func TestRecordCommandOutlivesCapture(t *testing.T) {
	recordNeedRoot(t)
	bin := buildKpcap(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	r := runCLI(t, bin, "record", "-d", "300ms", "-e", "sched:sched_process_exit", "-o", filepath.Join(dir, "t.pcapng.zst"),
		"--", "sh", "-c", "echo $$ > "+pidFile+"; exec sleep 30 >/dev/null 2>&1")
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if r.code != 0 || !strings.Contains(r.stderr, "the command sh is still running, no longer recorded") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestRecordBufferTooLarge: root is not the problem with a huge
// --buffer-size; the message names the limit (memory, the kernel's
// allocation or the mlock limits) and the fix.
func TestRecordBufferTooLarge(t *testing.T) {
	recordNeedRoot(t)
	bin := buildKpcap(t)
	out := filepath.Join(t.TempDir(), "t.pcapng.zst")
	r := runCLI(t, bin, "record", "-q", "-d", "300ms", "--buffer-size", "100G", "-e", "sched:sched_switch", "-o", out)
	if r.code == 0 || strings.Contains(r.stderr, "as root") || !strings.Contains(r.stderr, "kpcap record: --buffer-size: ") || !strings.Contains(r.stderr, "use a smaller one") ||
		!strings.Contains(r.stderr, "memory") && !strings.Contains(r.stderr, "could not allocate") {
		t.Errorf("--buffer-size 100G as root: exit %d, stderr %q; want the limit it exceeds and a smaller --buffer-size", r.code, r.stderr)
	}
}
