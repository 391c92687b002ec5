//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: progress lines only go to terminals.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("open /dev/ptmx under CI=true: %v", err)
		}
		t.Skipf("no pseudo-terminals: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatalf("open pty: %v", err)
	}
	return m, s
}

// runWithTTYStderr runs kpcap with stderr on a terminal and stdout on a
// pipe, returning both.
func runWithTTYStderr(t *testing.T, bin string, args ...string) (stdout, stderr string) {
	t.Helper()
	m, tty := openPTY(t)
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, tty
	if err := cmd.Start(); err != nil {
		tty.Close()
		t.Fatal(err)
	}
	tty.Close() // the child holds it now: reads end (EIO) when it exits
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(m)
		got <- b
	}()
	err := cmd.Wait()
	errOut := string(<-got)
	if err != nil {
		t.Fatalf("kpcap %v: %v\n%s", args, err, errOut)
	}
	return out.String(), errOut
}

// TestAnalyzeProgressTTY checks the progress line of analyze on a
// terminal, through the summary's fast path (which reads frames itself)
// and through replay batches, and its absence with -q or off a terminal.
func TestAnalyzeProgressTTY(t *testing.T) {
	bin := buildKpcap(t)
	path := writeOpenat(t, filepath.Join(t.TempDir(), "p.pcapng.zst"), "6.1.0-test", "", 3000, 1, 4)
	var events int
	{
		r := runCLI(t, bin, "analyze", "summary", "--json", path)
		if r.code != 0 {
			t.Fatalf("summary --json: exit %d: %s", r.code, r.stderr)
		}
		if r.stderr != "" {
			t.Errorf("stderr off a terminal is not quiet:\n%s", r.stderr)
		}
		m := regexp.MustCompile(`"events": (\d+)`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("no event count in %s", r.stdout)
		}
		fmt.Sscan(m[1], &events)
	}
	line := regexp.MustCompile(`\r\x1b\[Kp\.pcapng\.zst: (\d+) events, \d+ events/s, [0-9.]+ [KM]iB of [0-9.]+ [KM]iB read, 4 lost in trace\r?\n$`)
	for _, tc := range []struct {
		name       string
		args       []string
		wantEvents int // on the last line
	}{
		{"summary (fast path)", []string{"analyze", "summary", path}, events},
		{"summary (batches)", []string{"analyze", "summary", "--filter", "ret >= 0", path}, -1},
		{"latency", []string{"analyze", "latency", path}, events},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr := runWithTTYStderr(t, bin, tc.args...)
			if strings.TrimSpace(stdout) == "" {
				t.Errorf("no analysis on stdout:\n%s", stdout)
			}
			m := line.FindStringSubmatch(stderr)
			if m == nil {
				t.Fatalf("no progress line at the end of stderr: %q", stderr)
			}
			var n int
			fmt.Sscan(m[1], &n)
			if tc.wantEvents >= 0 && n != tc.wantEvents || n == 0 {
				t.Errorf("progress ends at %d events, want %d: %q", n, tc.wantEvents, stderr)
			}
			// Quiet with -q, terminal or not.
			_, stderr = runWithTTYStderr(t, bin, append(tc.args[:2:2], append([]string{"-q"}, tc.args[2:]...)...)...)
			if stderr != "" {
				t.Errorf("-q printed on stderr: %q", stderr)
			}
		})
	}
}
