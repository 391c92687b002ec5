package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestTerminalSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain: open x.zst", "plain: open x.zst"},
		{"caret\n  spec\n  ^\there", "caret\n  spec\n  ^\there"},
		{"esc \x1b[2J", `esc \x1b[2J`},
		{"bell\a del\x7f", `bell\x07 del\x7f`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{"c1 \u009b31m", `c1 \xc2\x9b31m`},
		{"ünïcode ok, U+FFFD \uFFFD kept", "ünïcode ok, U+FFFD \uFFFD kept"},
		{"cr\r", `cr\r`},
	}
	for _, tt := range tests {
		if got := terminalSafe(tt.in); got != tt.want {
			t.Errorf("terminalSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestErrorWithHostileFileName checks that a file name with an escape
// sequence reaches the terminal spelled out, in errors and flame warnings.
func TestErrorWithHostileFileName(t *testing.T) {
	bin := buildKpcap(t)
	dir := t.TempDir()
	name := filepath.Join(dir, "x\x1b]0;owned\a.zst")
	if err := os.WriteFile(name, []byte("not a trace"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"info", name}, {"analyze", "summary", name}, {"replay", name}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil {
			t.Fatalf("kpcap %s: no error on a non-trace", args[0])
		}
		if strings.ContainsAny(string(out), "\x1b\a") {
			t.Errorf("kpcap %s printed raw control bytes: %q", strings.Join(args[:len(args)-1], " "), out)
		}
		if !strings.Contains(string(out), `x\x1b]0;owned\x07.zst`) {
			t.Errorf("kpcap %s: the name is not spelled out: %q", args[0], out)
		}
	}
}
