package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// buildKpcap builds the real binary once per test process, so the CLI is
// tested the way a person runs it (exit codes, stderr, no stack traces).
func buildKpcap(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "kpcap")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestCLIExitCodes(t *testing.T) {
	bin := buildKpcap(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // substring of stdout+stderr
	}{
		{"no args prints help", nil, 2, "Usage: kpcap COMMAND"},
		{"help", []string{"help"}, 0, "Commands:"},
		{"version", []string{"version"}, 0, "kpcap " + version},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
	}
	// An unknown flag is a usage error for every command: exit 2 and the
	// pointer to its --help.
	for name := range commands {
		if name == "analyze" || name == "record" && runtime.GOOS != "linux" {
			continue // analyze's flags follow a subcommand; recording is refused before its flags are read
		}
		tests = append(tests, struct {
			name     string
			args     []string
			wantCode int
			wantOut  string
		}{name + " unknown flag", []string{name, "--bogus", "x"}, 2, "unknown flag: --bogus\nrun 'kpcap " + name + " --help' for usage"})
	}
	for _, sub := range []string{"summary", "latency", "flame", "diff", "report"} {
		tests = append(tests, struct {
			name     string
			args     []string
			wantCode int
			wantOut  string
		}{"analyze " + sub + " unknown flag", []string{"analyze", sub, "--bogus", "x"}, 2, "unknown flag: --bogus\nrun 'kpcap analyze --help' for usage"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(bin, tc.args...).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tc.wantCode, out)
			}
			if !strings.Contains(string(out), tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out)
			}
			if strings.Contains(string(out), "goroutine ") || strings.Contains(string(out), "panic:") {
				t.Errorf("stack trace in output:\n%s", out)
			}
		})
	}
}

// Every registered subcommand documents itself with examples.
func TestEveryCommandHasUsageWithExamples(t *testing.T) {
	if len(commands) == 0 {
		t.Fatal("no commands registered")
	}
	for name, c := range commands {
		if c.summary == "" || !strings.Contains(c.usage, "kpcap "+name) {
			t.Errorf("command %q: usage must show an example invocation", name)
		}
		if !strings.Contains(strings.ToLower(c.usage), "example") {
			t.Errorf("command %q: usage has no examples", name)
		}
	}
}
