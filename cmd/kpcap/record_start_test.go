//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
	"golang.org/x/sys/unix"
)

// TestRecordStartedLine: kpcap record says on stderr when every event is
// enabled (what scripts wait for); syscalls made right after that line are
// all recorded; --json keeps stdout pure JSON; -q prints nothing.
func TestRecordStartedLine(t *testing.T) {
	recordNeedRoot(t)
	bin := buildKpcap(t)
	dir := t.TempDir()
	runtime.LockOSThread() // the filter names this thread
	defer runtime.UnlockOSThread()
	out := filepath.Join(dir, "start.pcapng.zst")
	cmd := exec.Command(bin, "record", "--json", "-o", out, "-e", "syscalls:sys_enter_getppid",
		"--filter", "common_pid == "+strconv.Itoa(unix.Gettid()))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	want := fmt.Sprintf("kpcap record: recording 1 source on %d CPUs to %s (Ctrl-C to stop)", runtime.NumCPU(), out)
	var seen []string
	timeout := time.After(20 * time.Second)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("kpcap record ended without %q:\n%s", want, strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if l == want {
				break wait
			}
		case <-timeout:
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no %q after 20s:\n%s", want, strings.Join(seen, "\n"))
		}
	}
	getppids(1000)
	cmd.Process.Signal(syscall.SIGINT)
	for l := range lines {
		seen = append(seen, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kpcap record: %v\n%s", err, strings.Join(seen, "\n"))
	}
	var res struct {
		Samples uint64 `json:"samples"`
		Lost    uint64 `json:"lost"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil {
		t.Fatalf("stdout is not pure JSON: %v\n%s", err, stdout.String())
	}
	if res.Samples+res.Lost != 1000 {
		t.Errorf("after the recording line: %d samples + %d lost, want the 1000 getppid calls", res.Samples, res.Lost)
	}

	r := runCLI(t, bin, "record", "-q", "-d", "100ms", "-o", out, "-e", "sched:sched_process_exec")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("-q: exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
	}
}

// TestRecordSignalBeforeInit: a shell script's background job starts with
// SIGINT ignored, and the runtime leaves it ignored (signals lost) until
// kpcap asks for it: kpcap record must catch SIGINT before its dependencies
// finish initializing, not once main runs (tens of milliseconds later).
// strace shows the order: the runtime's report of each package init
// (GODEBUG=inittrace=1, written to stderr) against the rt_sigaction that
// installs the SIGINT handler. No single dependency serves as the marker
// (dependencies come and go): most package inits, and the inits that
// allocate most of the initialization's heap (the heavy ones: arrow's
// compute kernels, pprof, JSON codecs), must come after the handler.
func TestRecordSignalBeforeInit(t *testing.T) {
	recordNeedRoot(t)
	strace, err := exec.LookPath("strace")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: strace is needed to see when kpcap catches SIGINT")
		}
		t.Skip("strace not installed")
	}
	bin := buildKpcap(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "strace.log")
	cmd := exec.Command(strace, "-f", "-qq", "-s", "256", "-o", log, "-e", "trace=execve,rt_sigaction,write",
		"sh", "-c", `trap "" INT; exec "$0" "$@"`, bin, "record", "-q", "-d", "100ms", "-e", "sched:sched_process_exec",
		"-o", filepath.Join(dir, "t.pcapng.zst"))
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	inits, ignored, caught := parseInitTrace(t, string(b), bin)
	mainInit := -1
	for i, in := range inits {
		if in.pkg == "main" {
			mainInit = i
		}
	}
	if ignored < 0 || mainInit < 0 || len(inits) < 20 {
		t.Fatalf("strace log lacks the ignored SIGINT (line %d), main's init (%d) or package inits (%d seen):\n%s", ignored, mainInit, len(inits), b)
	}
	if caught < 0 {
		t.Fatalf("SIGINT never caught:\n%s", b)
	}
	// Package inits reported after the handler, and their heap bytes. The
	// init that installs it (earlysignal's) is reported right after it and
	// counts as neither before nor after.
	var before, after, bytesBefore, bytesAfter int
	var heaviestBefore initReport
	for _, in := range inits {
		if in.pkg == "main" || strings.HasSuffix(in.pkg, "/earlysignal") {
			continue
		}
		if in.line < caught {
			before++
			bytesBefore += in.bytes
			if in.bytes > heaviestBefore.bytes {
				heaviestBefore = in
			}
		} else {
			after++
			bytesAfter += in.bytes
		}
	}
	t.Logf("SIGINT caught at strace line %d: %d package inits (%d heap bytes) before, %d (%d bytes) after; heaviest before: %s (%d bytes)",
		caught, before, bytesBefore, after, bytesAfter, heaviestBefore.pkg, heaviestBefore.bytes)
	if caught > inits[mainInit].line {
		t.Errorf("SIGINT caught at line %d of the strace log, after main's init (%d): a SIGINT meanwhile is lost", caught, inits[mainInit].line)
	}
	if after < before || bytesAfter < 9*bytesBefore {
		t.Errorf("SIGINT caught late: after %d package inits that allocated %d heap bytes (%d inits, %d bytes follow; heaviest before: %s, %d bytes): a SIGINT meanwhile is lost",
			before, bytesBefore, after, bytesAfter, heaviestBefore.pkg, heaviestBefore.bytes)
	}
}

// initReport is one GODEBUG=inittrace=1 line ("init PKG @T ms, C ms clock,
// B bytes, A allocs") found in an strace log.
type initReport struct {
	line  int // strace log line of its first write
	pkg   string
	bytes int
}

var (
	straceWrite2 = regexp.MustCompile(`^(\d+) +write\(2, "((?:[^"\\]|\\.)*)"`)
	initLine     = regexp.MustCompile(`^init (\S+) @[0-9.]+ ms, [0-9.]+ ms clock, (\d+) bytes, \d+ allocs$`)
	sigHandler   = regexp.MustCompile(`rt_sigaction\(SIGINT, \{sa_handler=0x`)
)

// parseInitTrace reads the strace log (-f, so lines start with the pid) of
// bin's run: the init reports that bin's runtime wrote to stderr (one
// write per piece), and the lines where SIGINT was found ignored and where
// a handler was installed (-1 if not).
func parseInitTrace(t *testing.T, log, bin string) (inits []initReport, ignored, caught int) {
	t.Helper()
	ignored, caught = -1, -1
	started := false
	pending := map[string]*strings.Builder{} // pid -> init report so far
	first := map[string]int{}
	for i, l := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(l, "execve(\""+bin+"\""):
			started = true
		case !started:
		case strings.Contains(l, "rt_sigaction(SIGINT, NULL, {sa_handler=SIG_IGN") && ignored < 0:
			ignored = i
		case sigHandler.MatchString(l) && caught < 0:
			caught = i
		default:
			m := straceWrite2.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			pid, text := m[1], m[2]
			sb := pending[pid]
			if sb == nil {
				if text != "init " {
					continue
				}
				sb = &strings.Builder{}
				pending[pid], first[pid] = sb, i
			}
			if text != `\n` {
				sb.WriteString(text)
				continue
			}
			delete(pending, pid)
			r := initLine.FindStringSubmatch(sb.String())
			if r == nil {
				t.Fatalf("strace line %d ends an init report that does not parse: %q", i, sb.String())
			}
			n, _ := strconv.Atoi(r[2])
			inits = append(inits, initReport{line: first[pid], pkg: r[1], bytes: n})
		}
	}
	return inits, ignored, caught
}

// TestRecordSignalDuringSetup: started with SIGINT ignored, a SIGINT sent as
// soon as kpcap catches it (during its setup) stops the recording cleanly
// once it has started: finalized file, exit 0, long before -d.
func TestRecordSignalDuringSetup(t *testing.T) {
	recordNeedRoot(t)
	bin := buildKpcap(t)
	out := filepath.Join(t.TempDir(), "setup.pcapng.zst")
	cmd := exec.Command("sh", "-c", `trap "" INT; exec "$0" "$@"`, bin, "record", "-d", "60s", "-e", "sched:sched_process_exec", "-o", out)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	exe := fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid)
	for {
		// dash itself catches SIGINT until its trap runs: wait for the
		// exec into kpcap before reading SigCgt.
		if path, err := os.Readlink(exe); err == nil && path == bin && caughtSIGINT(status) {
			break
		}
		if time.Since(begin) > 20*time.Second {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kpcap never caught SIGINT: %s", stderr.String())
		}
		time.Sleep(100 * time.Microsecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("kpcap record after an early SIGINT: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("an early SIGINT did not stop kpcap record: %s", stderr.String())
	}
	f, err := format.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !f.Indexed || len(f.Warnings) > 0 || len(f.Stats) != 1 {
		t.Errorf("not finalized: indexed %v warnings %v stats %v", f.Indexed, f.Warnings, f.Stats)
	}
	if !strings.Contains(stderr.String(), "samples") {
		t.Errorf("no summary: %s", stderr.String())
	}
}

// caughtSIGINT reports whether the process of this /proc status file has a
// SIGINT handler.
func caughtSIGINT(status string) bool {
	b, err := os.ReadFile(status)
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
			return err == nil && m&(1<<(syscall.SIGINT-1)) != 0
		}
	}
	return false
}

// TestRecordSecondSIGINT: a second SIGINT stops at once, and still every
// getppid call is either recorded or counted lost, in --json, in the
// summary and in the file.
func TestRecordSecondSIGINT(t *testing.T) {
	recordNeedRoot(t)
	bin := buildKpcap(t)
	runtime.LockOSThread() // the filter names this thread
	defer runtime.UnlockOSThread()
	out := filepath.Join(t.TempDir(), "force.pcapng.zst")
	cmd := exec.Command(bin, "record", "-o", out, "--json", "--buffer-size", "64K", "-e", "syscalls:sys_enter_getppid",
		"--filter", "common_pid == "+strconv.Itoa(unix.Gettid()))
	var stdout strings.Builder
	cmd.Stdout = &stdout
	errFile, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	cmd.Stderr = errFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stderr := func() string { b, _ := os.ReadFile(errFile.Name()); return string(b) }
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stderr(), "(Ctrl-C to stop)"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kpcap record never started: %s", stderr())
		}
	}
	const n = 300000
	getppids(n)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kpcap record after two SIGINTs: %v\n%s", err, stderr())
	}
	var res struct {
		Samples uint64 `json:"samples"`
		Lost    uint64 `json:"lost"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil {
		t.Fatalf("--json: %v: %q", err, stdout.String())
	}
	t.Logf("recorded %d, lost %d", res.Samples, res.Lost)
	if res.Samples+res.Lost != n {
		t.Errorf("recorded %d + lost %d != %d getppid calls", res.Samples, res.Lost, n)
	}
	if want := fmt.Sprintf("%d samples, %d lost", res.Samples, res.Lost); !strings.Contains(stderr(), want) {
		t.Errorf("summary lacks %q:\n%s", want, stderr())
	}
	f, err := format.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Stats) != 1 || f.Stats[0].Received != res.Samples || f.Stats[0].Dropped != res.Lost {
		t.Errorf("file stats %+v, want %d received %d dropped", f.Stats, res.Samples, res.Lost)
	}
}
