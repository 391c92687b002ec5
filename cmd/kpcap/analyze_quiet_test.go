package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// TestFlameQuietNoStacks checks that a trace without call stacks gets the
// fallback flame (frames are the sources, exit 0) and that -q silences the
// note about it.
func TestFlameQuietNoStacks(t *testing.T) {
	bin := buildKpcap(t)
	path := filepath.Join(t.TempDir(), "nostack.pcapng.zst")
	g := newTrace(t, path, "6.18.0", []traceSource{
		{Src: format.Source{Name: "syscalls:sys_enter_openat", Kind: format.KindTracepoint, Definition: "syscalls:sys_enter_openat"}, Format: "sys_enter_openat"},
	})
	g.AddComm(format.Comm{PID: 100, TID: 100, Comm: "cat"})
	for i := range 10 {
		g.Sample(0, uint64(1_000_000_000+i*1000), 0, 100, 100, map[string]any{"__syscall_nr": 257, "dfd": -100, "filename": 0x7ffe0000, "flags": 0}, nil)
	}
	g.Close(nil)

	for _, tc := range []struct {
		args     []string
		wantNote bool
	}{
		{[]string{"analyze", "flame", path}, true},
		{[]string{"analyze", "flame", "-q", path}, false},
		{[]string{"analyze", "flame", "--quiet", path}, false},
	} {
		r := runCLI(t, bin, tc.args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "cat;[syscalls:sys_enter_openat];[no stack] 10\n") {
			t.Errorf("%v: fallback folded output lacks the source frame:\n%s", tc.args, r.stdout)
		}
		if got := strings.Contains(r.stderr, "no event carries a call stack"); got != tc.wantNote {
			t.Errorf("%v: note printed = %v, want %v; stderr:\n%s", tc.args, got, tc.wantNote, r.stderr)
		}
		if !tc.wantNote && r.stderr != "" {
			t.Errorf("%v: -q printed on stderr:\n%s", tc.args, r.stderr)
		}
	}
}
