//go:build linux

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileRun is the outcome of one command on a hostile file.
type hostileRun struct {
	code     int
	stderr   string
	out      string
	wall     time.Duration
	cpu      time.Duration // user + system
	maxRSSKB int64
	killed   bool
}

// runHostile runs bin with args under limit, and reports its exit, stderr,
// time and peak resident memory.
func runHostile(t *testing.T, bin string, limit time.Duration, args ...string) hostileRun {
	t.Helper()
	return runHostileIn(t, bin, "", limit, args...)
}

// runHostileIn is runHostile in directory dir; it keeps stdout.
func runHostileIn(t *testing.T, bin, dir string, limit time.Duration, args ...string) hostileRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	// /usr/bin/time forks before it execs, so its peak RSS is kpcap's
	// alone (a child exec'd straight from this process would count this
	// process's memory too).
	rss := filepath.Join(t.TempDir(), "rss")
	cmd := exec.CommandContext(ctx, timeBin, append([]string{"-f", "%M %U %S", "-o", rss, bin}, args...)...)
	// Kill kpcap with /usr/bin/time on timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Dir = &o, &e, dir
	start := time.Now()
	err := cmd.Run()
	r := hostileRun{wall: time.Since(start), stderr: e.String(), out: o.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	r.killed = ctx.Err() != nil
	if b, err := os.ReadFile(rss); err == nil {
		// The last line: time writes "Command exited with non-zero status" before it.
		if f := strings.Fields(string(b)); len(f) >= 3 {
			f = f[len(f)-3:]
			r.maxRSSKB, _ = strconv.ParseInt(f[0], 10, 64)
			user, _ := strconv.ParseFloat(f[1], 64)
			sys, _ := strconv.ParseFloat(f[2], 64)
			r.cpu = time.Duration((user + sys) * float64(time.Second))
		}
	}
	return r
}

// hostileScale is the shapes' size: the outside check's (1) with
// KPCAP_HOSTILE_FULL=1, else a tenth, which keeps the test quick while
// still far past what a bounded reader needs.
func hostileScale() float64 {
	if os.Getenv("KPCAP_HOSTILE_FULL") == "1" {
		return 1
	}
	return 0.1
}

// TestHostileShapesCLI runs every reading command over every hostile shape
// of issue #18: each must end within a bound, with exit 0 or 1, at most a
// line of error, no stack trace, and memory far below what the shape once
// took.
func TestHostileShapesCLI(t *testing.T) {
	if _, err := os.Stat(timeBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s (Debian package time) is missing", timeBin)
		}
		t.Skipf("%s (Debian package time) measures peak memory: %v", timeBin, err)
	}
	bin := buildKpcap(t)
	dir := t.TempDir()
	for _, sh := range hostileShapes(hostileScale()) {
		t.Run(sh.name, func(t *testing.T) {
			path := filepath.Join(dir, sh.name+".kpcap")
			sh.build(t, path)
			st, _ := os.Stat(path)
			out := t.TempDir()
			for _, args := range hostileCommands(path, out) {
				r := runHostile(t, bin, 120*time.Second, args...)
				name := strings.Join(args[:len(args)-1], " ")
				name = strings.ReplaceAll(strings.ReplaceAll(name, out+"/", ""), path, "F")
				t.Logf("%-12s %-8s %-45s exit %d  %6.2fs wall %6.2fs cpu %7d KB  stderr %q", sh.name, strconv.FormatInt(st.Size()/1024, 10)+"KB", name, r.code, r.wall.Seconds(), r.cpu.Seconds(), r.maxRSSKB, firstLine(r.stderr))
				if r.killed {
					t.Errorf("%s: still running after 120 s", name)
					continue
				}
				if r.code != 0 && r.code != 1 {
					t.Errorf("%s: exit %d", name, r.code)
				}
				if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
					t.Errorf("%s: stack trace:\n%s", name, r.stderr)
				}
				if r.code == 1 && strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 && !strings.Contains(r.stderr, "warning") {
					t.Errorf("%s: multi-line error:\n%s", name, r.stderr)
				}
				if r.maxRSSKB > hostileMaxRSSKB {
					t.Errorf("%s: peak RSS %d MB, over %d MB", name, r.maxRSSKB>>10, hostileMaxRSSKB>>10)
				}
			}
		})
	}
}

// timeBin is GNU time, which reports a command's peak RSS.
const timeBin = "/usr/bin/time"

// hostileMaxRSSKB bounds any command's peak memory on a hostile shape.
const hostileMaxRSSKB = 1 << 20

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// TestDeepCallchainsRSS reads issue #18's deep-callchain shape at its full
// size (1000 distinct stacks of 8192 ips, 8M ips in all, 64 MB of raw
// callchains) with every command that reads stacks, and bounds each one's
// peak memory by a few times those 64 MB: a command may hold the stacks
// and the tree it draws, not several copies of every ip.
func TestDeepCallchainsRSS(t *testing.T) {
	if _, err := os.Stat(timeBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s (Debian package time) is missing", timeBin)
		}
		t.Skipf("%s (Debian package time) measures peak memory: %v", timeBin, err)
	}
	bin := buildKpcap(t)
	path := filepath.Join(t.TempDir(), "deep.kpcap")
	buildDeepCallchains(t, path, 1000)
	out := t.TempDir()
	const maxKB = 384 << 10
	for _, args := range [][]string{
		{"replay", path},
		{"replay", "--format", "json", path},
		{"replay", "-o", filepath.Join(out, "o.parquet"), path},
		{"replay", "-o", filepath.Join(out, "o.arrow"), path},
		{"analyze", "flame", "-o", filepath.Join(out, "f.folded"), "--svg", filepath.Join(out, "f.svg"), path},
		{"analyze", "diff", "--svg", filepath.Join(out, "d.svg"), path, path},
		{"analyze", "report", "-o", filepath.Join(out, "r.html"), path},
	} {
		r := runHostile(t, bin, 300*time.Second, args...)
		name := strings.ReplaceAll(strings.Join(args[:len(args)-1], " "), out+"/", "")
		name = strings.ReplaceAll(name, path, "F")
		t.Logf("%-45s exit %d %6.2fs cpu %7d KB", name, r.code, r.cpu.Seconds(), r.maxRSSKB)
		if r.killed || r.code != 0 {
			t.Errorf("%s: exit %d (killed %v): %s", name, r.code, r.killed, firstLine(r.stderr))
		}
		if r.maxRSSKB > maxKB {
			t.Errorf("%s: peak RSS %d MB, over %d MB", name, r.maxRSSKB>>10, maxKB>>10)
		}
	}
}

// TestWideOverlapRSS reads a wide schema (3000 sources of two distinct
// fields each, 6000 columns) whose frames interleave two by two in time
// (40,000 samples in frames of 10,000) with every command that reads rows,
// and bounds each one's peak memory: held as decoded columns, rows cost
// rows × the columns they touch, and merging the overlap once took 400-510
// MB here and let rows past its window out of time order; the rows must
// come out in order, without that warning.
func TestWideOverlapRSS(t *testing.T) {
	if _, err := os.Stat(timeBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s (Debian package time) is missing", timeBin)
		}
		t.Skipf("%s (Debian package time) measures peak memory: %v", timeBin, err)
	}
	bin := buildKpcap(t)
	path := filepath.Join(t.TempDir(), "wide.kpcap")
	buildWideOverlap(t, path, 3000, 40000, 10000)
	out := t.TempDir()
	const maxKB = 320 << 10
	for _, args := range [][]string{
		{"replay", "-o", filepath.Join(out, "o.txt"), path},
		{"replay", "--format", "json", "-o", filepath.Join(out, "o.json"), path},
		{"replay", "-o", filepath.Join(out, "o.parquet"), path},
		{"replay", "-o", filepath.Join(out, "o.arrow"), path},
		{"analyze", "summary", path},
		{"analyze", "flame", "-o", filepath.Join(out, "f.folded"), path},
		{"analyze", "report", "-o", filepath.Join(out, "r.html"), path},
	} {
		r := runHostile(t, bin, 300*time.Second, args...)
		name := strings.ReplaceAll(strings.Join(args[:len(args)-1], " "), out+"/", "")
		t.Logf("%-45s exit %d %6.2fs cpu %7d KB", name, r.code, r.cpu.Seconds(), r.maxRSSKB)
		if r.killed || r.code != 0 {
			t.Errorf("%s: exit %d (killed %v): %s", name, r.code, r.killed, firstLine(r.stderr))
		}
		if r.maxRSSKB > maxKB {
			t.Errorf("%s: peak RSS %d MB, over %d MB", name, r.maxRSSKB>>10, maxKB>>10)
		}
		if strings.Contains(r.stderr, "out of time order") {
			t.Errorf("%s: rows out of order: %s", name, r.stderr)
		}
	}
}
