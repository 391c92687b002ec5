//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needFile returns path, skipping without it (failing under CI=true).
func needFile(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: %s is needed (.ci/run installs it): %v", path, err)
		}
		t.Skipf("%s: %v", path, err)
	}
	return path
}

const python = "/usr/bin/python3.11"

// pyScript calls f argv[1] times with a profile function set.
const pyScript = `import sys
def f(n):
    return n + 1

sys.setprofile(lambda *a: None)
total = 0
for i in range(int(sys.argv[1])):
    total += f(i)
sys.setprofile(None)
`

// replayJSON decodes `kpcap replay --format json` of a trace.
func replayJSON(t *testing.T, bin, trace string) []map[string]any {
	t.Helper()
	out, err := exec.Command(bin, "replay", "--format", "json", trace).Output()
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	var rows []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("replay JSON %q: %v", sc.Text(), err)
		}
		rows = append(rows, m)
	}
	return rows
}

// recordDone runs `kpcap record ARGS` to completion.
func recordDone(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, append([]string{"record", "-q"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kpcap record %q: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestUSDTPython records Debian's python3.11 function__entry and
// function__return markers (semaphore-guarded: kpcap enables them through
// the uprobe reference counter) while a script calls f 1000 times under a
// profile function (CPython 3.11 fires function__entry only while one is
// set, or on generator.throw: cpython#98894), with the file, function and
// line as arguments; the in-kernel filter keeps f's events. Exactly 1000 of each, every one naming
// the script, f and its lines, and analyze latency pairs all 1000.
func TestUSDTPython(t *testing.T) {
	recordNeedRoot(t)
	needFile(t, python)
	bin := buildKpcap(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "calls.py")
	if err := os.WriteFile(script, []byte(pyScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "py.pcapng.zst")
	args := " arg1:ustring arg2:ustring arg3"
	recordDone(t, bin, "-o", out,
		"-p", "usdt:"+python+":python:function__entry"+args,
		"-p", "usdt:"+python+":python:function__return"+args,
		"--filter", `arg2 == "f"`, "--", python, script, "1000")
	counts := map[string]int{}
	for _, r := range replayJSON(t, bin, out) {
		probe, _ := r["probe"].(string)
		counts[probe]++
		wantLine := 2.0 // entry: the def line
		if strings.HasSuffix(probe, "return") {
			wantLine = 3 // the return statement
		}
		if r["arg1"] != script || r["arg2"] != "f" || r["arg3"] != wantLine {
			t.Fatalf("%s: file %v function %v line %v; want %s, f, %v", probe, r["arg1"], r["arg2"], r["arg3"], script, wantLine)
		}
	}
	if counts["python:function__entry"] != 1000 || counts["python:function__return"] != 1000 {
		t.Errorf("events %v, want 1000 function__entry and 1000 function__return", counts)
	}
	lout, err := exec.Command(bin, "analyze", "latency", "--json", out).Output()
	if err != nil {
		t.Fatalf("latency: %v", err)
	}
	var lat struct {
		Latency []struct {
			Name  string `json:"name"`
			Count uint64 `json:"count"`
		} `json:"latency"`
		UnmatchedEntries uint64 `json:"unmatched_entries"`
		UnmatchedReturns uint64 `json:"unmatched_returns"`
	}
	if err := json.Unmarshal(lout, &lat); err != nil {
		t.Fatal(err)
	}
	if len(lat.Latency) != 1 || lat.Latency[0].Name != "usdt:python:function" || lat.Latency[0].Count != 1000 || lat.UnmatchedEntries+lat.UnmatchedReturns != 0 {
		t.Errorf("latency: %s", lout)
	}
	// Nothing of kpcap's stays in uprobe_events.
	if b, _ := os.ReadFile("/sys/kernel/tracing/uprobe_events"); strings.Contains(string(b), "function__") {
		t.Errorf("probes left behind:\n%s", b)
	}
}

// TestUSDTPythonPMU records function__entry without arguments, system-wide:
// the uprobe PMU with the semaphore's offset in attr.config. Two runs of the
// script, calling f 0 and 700 times, differ by exactly 700 entries.
func TestUSDTPythonPMU(t *testing.T) {
	recordNeedRoot(t)
	needFile(t, python)
	bin := buildKpcap(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "calls.py")
	if err := os.WriteFile(script, []byte(pyScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "pmu.pcapng.zst")
	rec, stderr := startRecord(t, bin, out, "-p", "usdt:"+python+":function__entry")
	pids := map[float64]int{}
	for _, n := range []int{0, 700} {
		cmd := exec.Command(python, script, strconv.Itoa(n))
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("python: %v %s", err, o)
		}
		pids[float64(cmd.Process.Pid)] = n
	}
	rec.Process.Signal(syscall.SIGINT)
	if err := rec.Wait(); err != nil {
		t.Fatalf("record: %v\n%s", err, stderr)
	}
	per := map[int]int{}
	for _, r := range replayJSON(t, bin, out) {
		if n, ok := pids[r["pid"].(float64)]; ok {
			per[n]++
		}
	}
	if per[0] == 0 || per[700]-per[0] != 700 {
		t.Errorf("entries of the run calling f 0 times: %d, 700 times: %d; want a difference of exactly 700", per[0], per[700])
	}
	if b, _ := os.ReadFile("/sys/kernel/tracing/uprobe_events"); strings.Contains(string(b), "function__") {
		t.Errorf("the PMU path went through tracefs:\n%s", b)
	}
}

// thrower builds a C++ program throwing and catching argv[1] exceptions;
// with a second argument it first waits for a line on stdin.
func thrower(t *testing.T) string {
	t.Helper()
	gxx, err := exec.LookPath("g++")
	if err != nil {
		needFile(t, "/usr/bin/g++")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "thrower.cpp")
	code := `#include <cstdio>
#include <cstdlib>
#include <stdexcept>
int main(int argc, char **argv) {
	int n = atoi(argv[1]), caught = 0;
	if (argc > 2) { char b[8]; if (!fgets(b, sizeof b, stdin)) return 2; }
	for (int i = 0; i < n; i++) {
		try { throw std::runtime_error("kpcap"); } catch (const std::exception &) { caught++; }
	}
	return caught == n ? 0 : 1;
}
`
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "thrower")
	if out, err := exec.Command(gxx, "-O1", "-o", exe, src).CombinedOutput(); err != nil {
		t.Fatalf("g++: %v\n%s", err, out)
	}
	return exe
}

func libstdcxx(t *testing.T) string {
	dir := "/usr/lib/x86_64-linux-gnu"
	if runtime.GOARCH == "arm64" {
		dir = "/usr/lib/aarch64-linux-gnu"
	}
	return needFile(t, dir+"/libstdc++.so.6")
}

// countProbes counts a trace's events per source.
func countProbes(t *testing.T, bin, trace string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, r := range replayJSON(t, bin, trace) {
		n[r["probe"].(string)]++
	}
	return n
}

// TestUSDTLibstdcxx records libstdc++'s throw and catch markers of a C++
// program throwing 500 exceptions: as its command (by path, and by a glob
// over the provider's markers), and with --pid naming the library as the
// process maps it.
func TestUSDTLibstdcxx(t *testing.T) {
	recordNeedRoot(t)
	lib := libstdcxx(t)
	exe := thrower(t)
	bin := buildKpcap(t)
	const n = 500

	out := filepath.Join(t.TempDir(), "cmd.pcapng.zst")
	recordDone(t, bin, "-o", out, "-p", "usdt:"+lib+":libstdcxx:throw", "-p", "usdt:"+lib+":catch", "--", exe, strconv.Itoa(n))
	if got := countProbes(t, bin, out); got["libstdcxx:throw"] != n || got["libstdcxx:catch"] != n || len(got) != 2 {
		t.Errorf("command: %v, want exactly %d throw and %d catch", got, n, n)
	}

	// A glob over markers: one source per marker.
	out = filepath.Join(t.TempDir(), "glob.pcapng.zst")
	recordDone(t, bin, "-o", out, "-p", "usdt:"+lib+":libstdcxx:*", "--", exe, strconv.Itoa(n))
	if got := countProbes(t, bin, out); got["libstdcxx:throw"] != n || got["libstdcxx:catch"] != n || len(got) != 2 {
		t.Errorf("glob: %v, want exactly %d throw and %d catch (and no rethrow)", got, n, n)
	}
	if msg, _ := exec.Command(bin, "info", out).Output(); !strings.Contains(string(msg), "libstdcxx:rethrow") {
		t.Errorf("glob: no rethrow source in\n%s", msg)
	}

	cmd := exec.Command(exe, strconv.Itoa(n), "wait")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	out = filepath.Join(t.TempDir(), "pid.pcapng.zst")
	// The library is mapped once the dynamic loader is done: wait for it.
	for i := 0; ; i++ {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", cmd.Process.Pid))
		if strings.Contains(string(b), "libstdc++") {
			break
		}
		if i > 500 {
			t.Fatal("libstdc++ never mapped")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rec, stderr := startRecord(t, bin, out, "--pid", strconv.Itoa(cmd.Process.Pid), "-p", "usdt:libstdc++:libstdcxx:throw", "-p", "usdt:libstdc++:libstdcxx:catch")
	io.WriteString(stdin, "go\n")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("thrower: %v", err)
	}
	if err := rec.Wait(); err != nil { // ends with the process
		t.Fatalf("record: %v\n%s", err, stderr)
	}
	if got := countProbes(t, bin, out); got["libstdcxx:throw"] != n || got["libstdcxx:catch"] != n {
		t.Errorf("--pid: %v, want exactly %d throw and %d catch", got, n, n)
	}
}

// TestUSDTErrors: a missing marker lists the binary's markers; a binary
// without markers and a bad argument say so; all exit 2.
func TestUSDTErrors(t *testing.T) {
	recordNeedRoot(t)
	lib := libstdcxx(t)
	bin := buildKpcap(t)
	for _, c := range []struct{ def, want string }{
		{"usdt:" + lib + ":libstdcxx:nosuch", "its markers: libstdcxx:catch, libstdcxx:throw, libstdcxx:rethrow"},
		{"usdt:/bin/true:x:y", "has no USDT markers"},
		{"usdt:" + lib + ":libstdcxx:throw arg3", "has 2 arguments"},
		{"usdt:" + lib + ":libstdcxx:throw argx", "want argN[:TYPE]"},
		{"usdt:libstdc++:libstdcxx:throw", "give the binary's path, or follow a process (PID)"},
	} {
		out, err := exec.Command(bin, "record", "-o", filepath.Join(t.TempDir(), "x"), "-d", "1", "-p", c.def).CombinedOutput()
		if exitCode(err) != 2 || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: exit %d, %s; want 2 and %q", c.def, exitCode(err), out, c.want)
		}
	}
}
