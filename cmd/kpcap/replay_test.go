package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// replayTrace writes a trace of n alternating sys_enter_openat /
// sys_exit_openat samples (real tracefs formats) with one callchain each.
func replayTrace(t *testing.T, n int) string {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", "replay", "testdata", "formats", name+".format"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	p := filepath.Join(t.TempDir(), "t.pcapng.zst")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, &format.Header{Application: "kpcap test", Sources: []format.Source{
		{Name: "syscalls:sys_enter_openat", Kind: format.KindTracepoint, Format: read("sys_enter_openat")},
		{Name: "syscalls:sys_exit_openat", Kind: format.KindTracepoint, Format: read("sys_exit_openat")},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.AddSymbols([]format.Symbol{{Addr: 0xffffffff81000000, Size: 0x100, Name: "do_sys_openat2"}})
	w.AddComm(format.Comm{PID: 42, TID: 42, Comm: "cat"})
	for i := 0; i < n; i++ {
		s := format.Sample{Source: uint32(i % 2), Time: 5e9 + uint64(i)*1000, CPU: 1, PID: 42, TID: 42,
			Callchain: []uint64{^uint64(128) + 1, 0xffffffff81000010}}
		if i%2 == 0 {
			s.Raw = make([]byte, 48)
			binary.LittleEndian.PutUint64(s.Raw[32:], 0x80000)
		} else {
			s.Raw = make([]byte, 24)
			binary.LittleEndian.PutUint64(s.Raw[16:], uint64(i%7)-2)
		}
		if err := w.WriteSample(&s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	return p
}

func runBin(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.String(), "goroutine ") || strings.Contains(e.String(), "panic:") {
		t.Errorf("stack trace:\n%s", e.String())
	}
	return o.String(), e.String(), code
}

func TestReplayCLI(t *testing.T) {
	bin := buildKpcap(t)
	trace := replayTrace(t, 1000)
	out, errs, code := runBin(t, bin, "replay", trace)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if code != 0 || len(lines) != 1000 {
		t.Fatalf("replay: code %d, %d lines, stderr %s", code, len(lines), errs)
	}
	if want := "             cat-42      [001]     5.000000: sys_enter_openat: __syscall_nr=0 dfd=0x0 filename=0x0 flags=0x80000 mode=0x0"; lines[0] != want {
		t.Errorf("first line\n%q, want\n%q", lines[0], want)
	}

	out, _, code = runBin(t, bin, "replay", "--format", "json", "--probe", "sys_exit_openat", "--filter", "ret < 0 && comm == cat", trace)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 {
		t.Fatalf("json: code %d", code)
	}
	neg := 0
	for i := 1; i < 1000; i += 2 {
		if int64(uint64(i%7)-2) < 0 {
			neg++
		}
	}
	if len(lines) != neg {
		t.Errorf("filter kept %d events, want %d", len(lines), neg)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil || m["probe"] != "syscalls:sys_exit_openat" || m["ret"].(float64) >= 0 {
		t.Errorf("json line %s: %v", lines[0], err)
	}
	if st, _ := m["stack"].([]any); len(st) != 1 || st[0] != "do_sys_openat2" {
		t.Errorf("stack %v", m["stack"])
	}

	out, _, _ = runBin(t, bin, "replay", "--since", "100us", "--until", "5000200000", trace)
	if n := strings.Count(out, "\n"); n != 100 { // 5.0001s .. 5.0002s: 100 events 1us apart
		t.Errorf("--since/--until kept %d events, want 100", n)
	}

	dir := t.TempDir()
	for _, ext := range []string{"parquet", "arrow"} {
		o := filepath.Join(dir, "out."+ext)
		_, errs, code := runBin(t, bin, "replay", "-q", "-o", o, trace)
		if code != 0 {
			t.Fatalf("-o %s: code %d: %s", o, code, errs)
		}
		magic := map[string]string{"parquet": "PAR1", "arrow": "ARROW1"}[ext]
		for _, p := range []string{o, filepath.Join(dir, "out.stacks."+ext)} {
			b, err := os.ReadFile(p)
			if err != nil || !bytes.HasPrefix(b, []byte(magic)) || !bytes.HasSuffix(b, []byte(magic)) {
				t.Errorf("%s: not a %s file (%v)", p, ext, err)
			}
		}
	}

	errCases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"replay", "--filter", "ret <", trace}, 2, "at column 6"},
		{[]string{"replay", "--probe", "nope", trace}, 2, "no source matches --probe nope"},
		{[]string{"replay", "--format", "xml", trace}, 2, "unknown --format"},
		{[]string{"replay", "--since", "yesterday", trace}, 2, "--since"},
		{[]string{"replay"}, 2, "want one trace FILE"},
		{[]string{"replay", filepath.Join(dir, "missing.pcapng.zst")}, 1, "kpcap replay: open"},
	}
	for _, c := range errCases {
		_, errs, code := runBin(t, bin, c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: code %d stderr %q, want %d %q", c.args, code, errs, c.code, c.msg)
		}
	}
}

func TestReplayBrokenPipe(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash")
	}
	bin := buildKpcap(t)
	trace := replayTrace(t, 200_000)
	cmd := exec.Command("bash", "-c", `"$0" replay "$1" | head -n 2 >/dev/null; exit ${PIPESTATUS[0]}`, bin, trace)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("replay | head: %v, output %q", err, out)
	}
}

// replayNeedRoot skips without root on Linux locally and fails under CI=true.
func replayNeedRoot(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("recording needs Linux")
	}
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true: recording real events for replay needs root")
	}
	t.Skip("recording real events for replay needs root (perf_event_open, tracefs)")
}

// TestReplayRealRecording records real kernel tracepoints around a command
// with kpcap record, then checks what replay decodes from them.
func TestReplayRealRecording(t *testing.T) {
	replayNeedRoot(t)
	bin := buildKpcap(t)
	cat, err := exec.LookPath("cat")
	if err != nil {
		t.Skip("needs cat")
	}
	dir := t.TempDir()
	trace := filepath.Join(dir, "real.pcapng.zst")
	target := filepath.Join(dir, "kpcap-replay-target.txt")
	if err := os.WriteFile(target, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs, code := runBin(t, bin, "record", "-q", "-e", "syscalls:sys_enter_openat", "-e", "syscalls:sys_exit_openat",
		"-e", "sched:sched_process_exec", "-o", trace, "--", cat, target)
	if code != 0 {
		t.Fatalf("record: code %d: %s", code, errs)
	}
	out, errs, code := runBin(t, bin, "replay", "--format", "json", trace)
	if code != 0 {
		t.Fatalf("replay: code %d: %s", code, errs)
	}
	var last float64
	execs, opens, exits := 0, 0, 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", l, err)
		}
		ts := m["ts"].(float64)
		if ts < last {
			t.Errorf("time went backwards: %v after %v", ts, last)
		}
		last = ts
		if m["comm"] != "cat" {
			continue
		}
		switch m["probe"] {
		case "sched:sched_process_exec":
			if m["filename"] == cat {
				execs++
			}
		case "syscalls:sys_enter_openat":
			opens++
		case "syscalls:sys_exit_openat":
			exits++
		}
	}
	if execs != 1 || opens == 0 || exits != opens {
		t.Errorf("cat: %d execs of %s, %d openat entries, %d exits; replay:\n%s", execs, cat, opens, exits, out)
	}
	// The offline filter agrees with the JSON above.
	out, _, code = runBin(t, bin, "replay", "--probe", "sys_enter_openat", "--filter", `comm == "cat" && dfd != 1`, trace)
	if n := strings.Count(out, "\n"); code != 0 || n != opens {
		t.Errorf("filtered text replay: code %d, %d lines, want %d:\n%s", code, n, opens, out)
	}
	if !strings.Contains(out, "sys_enter_openat: __syscall_nr=") || !strings.Contains(out, " cat-") {
		t.Errorf("text replay lacks the trace_pipe shape:\n%s", out)
	}
}
