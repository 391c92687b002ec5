//go:build linux

package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRecordAttachProgressTTY: attaching a pattern's 60 functions shows how
// far it got on a terminal (the probes created, then their perf events
// opened), and nothing of it with -q or when stderr is not a terminal.
func TestRecordAttachProgressTTY(t *testing.T) {
	recordNeedRoot(t)
	var b strings.Builder
	for i := range 60 {
		fmt.Fprintf(&b, "__attribute__((noinline)) int fn_%02d(int x) { __asm__ volatile(\"\"); return x + %d; }\n", i, i)
	}
	b.WriteString("int main(void) { int s = 0;\n")
	for i := range 60 {
		fmt.Fprintf(&b, "s += fn_%02d(%d);\n", i, i)
	}
	b.WriteString("return s == 0; }\n")
	exe := buildC(t, b.String())
	bin := buildKpcap(t)
	dir := t.TempDir()
	def := "p " + exe + ":fn_*"

	// The perf path opens a perf event per probe and CPU: the events' part
	// of the progress is its own.
	_, stderr := runWithTTYStderr(t, bin, "record", "--path", "perf", "-o", filepath.Join(dir, "tty.pcapng.zst"), "-p", def, "--", exe)
	if !regexp.MustCompile(`\r\x1b\[Kkpcap record: attaching probes: 60 of 60`).MatchString(stderr) {
		t.Errorf("no progress of the 60 probes on the terminal:\n%q", stderr)
	}
	m := regexp.MustCompile(`attaching events: (\d+) of (\d+)`).FindAllStringSubmatch(stderr, -1)
	if len(m) == 0 || m[len(m)-1][1] != m[len(m)-1][2] {
		t.Errorf("no progress of the perf events up to their total on the terminal: %q", m)
	}

	_, stderr = runWithTTYStderr(t, bin, "record", "-q", "-o", filepath.Join(dir, "q.pcapng.zst"), "-p", def, "--", exe)
	if strings.Contains(stderr, "attaching") {
		t.Errorf("-q on a terminal shows attaching progress:\n%q", stderr)
	}
	r := runCLI(t, bin, "record", "-o", filepath.Join(dir, "pipe.pcapng.zst"), "-p", def, "--", exe)
	if r.code != 0 {
		t.Fatalf("record: exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "attaching probes:") || strings.Contains(r.stderr, "attaching events:") {
		t.Errorf("progress on a pipe:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "60 probes created in") {
		t.Errorf("the one-line note of what was attached is missing off a terminal:\n%s", r.stderr)
	}
}
