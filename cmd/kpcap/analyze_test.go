package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// requireToolAnalyze skips locally when a tool is missing and fails under CI=true.
func requireToolAnalyze(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

type cliResult struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, bin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	r := cliResult{stdout: o.String(), stderr: e.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		t.Fatalf("kpcap %v: stack trace:\n%s", args, r.stderr)
	}
	return r
}

func TestAnalyzeCLI(t *testing.T) {
	bin := buildKpcap(t)
	dir := t.TempDir()
	a := writeOpenat(t, filepath.Join(dir, "a.pcapng.zst"), "6.1.0-56-amd64", ".isra.0", 500, 1, 0)
	b := writeOpenat(t, filepath.Join(dir, "b.pcapng.zst"), "6.12.117-amd64", ".constprop.0", 500, 3, 11)

	t.Run("summary", func(t *testing.T) {
		r := runCLI(t, bin, "analyze", "summary", b)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		for _, w := range []string{"kernel 6.12.117-amd64", "LOST: 11 samples", "syscalls:sys_enter_openat", "Rate over time", "OFFSET", "/etc/passwd"} {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("summary lacks %q:\n%s", w, r.stdout)
			}
		}
		// A window around the loss record (call 250 of 500, 10 µs apart).
		r = runCLI(t, bin, "analyze", "summary", "--since", "2ms", "--until", "3ms", b)
		if r.code != 0 || !strings.Contains(r.stdout, "LOST: 11 samples in the window (11 in the whole capture)") {
			t.Errorf("windowed summary: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = runCLI(t, bin, "analyze", "summary", "--since", "3ms", b)
		if r.code != 0 || !strings.Contains(r.stdout, "Lost: 0 samples in the window (11 in the whole capture)") {
			t.Errorf("windowed summary: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = runCLI(t, bin, "analyze", "summary", "--json", b)
		var s struct {
			Events uint64 `json:"events"`
			Lost   uint64 `json:"lost"`
			Loss   struct {
				ByCPU []struct{ CPU, Count uint64 } `json:"by_cpu"`
			} `json:"loss"`
			Sources []struct {
				Name   string `json:"name"`
				Events uint64 `json:"events"`
			} `json:"sources"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
			t.Fatalf("summary JSON: %v\n%s", err, r.stdout)
		}
		if s.Events != 500*4+200+5+2 || s.Lost != 11 || len(s.Loss.ByCPU) != 1 || s.Sources[0].Events != 501 {
			t.Errorf("summary JSON: %+v", s)
		}
	})

	t.Run("latency", func(t *testing.T) {
		r := runCLI(t, bin, "analyze", "latency", a)
		if r.code != 0 || !strings.Contains(r.stdout, "     usecs               : count     distribution") ||
			!strings.Contains(r.stdout, "syscall:openat: 500 calls") || !strings.Contains(r.stdout, "unmatched: 1 entries") {
			t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		r = runCLI(t, bin, "analyze", "latency", "--json", "--unit", "ns", a)
		var l struct {
			Latency []struct {
				Name      string `json:"name"`
				Count     uint64 `json:"count"`
				P50       uint64 `json:"p50_ns"`
				P999      uint64 `json:"p999_ns"`
				Max       uint64 `json:"max_ns"`
				Histogram []struct {
					Low, High, Count uint64
				} `json:"histogram"`
			} `json:"latency"`
			UnmatchedEntries uint64 `json:"unmatched_entries"`
			UnmatchedReturns uint64 `json:"unmatched_returns"`
			Lost             *uint64
		}
		if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
			t.Fatal(err)
		}
		if len(l.Latency) != 2 || l.Latency[0].Name != "syscall:openat" || l.Latency[0].Count != 500 || l.Latency[0].Max != 1906 ||
			l.UnmatchedEntries != 1 || l.UnmatchedReturns != 1 || l.Lost == nil {
			t.Errorf("latency JSON: %+v", l)
		}
		r = runCLI(t, bin, "analyze", "latency", "--by", "pid", "--start", "kpcap:open", "--end", "kpcap:open_ret", a)
		if r.code != 0 || !strings.Contains(r.stdout, "[pid=100]") || !strings.Contains(r.stdout, "[pid=200]") {
			t.Errorf("--by pid:\n%s%s", r.stdout, r.stderr)
		}
	})

	t.Run("flame", func(t *testing.T) {
		r := runCLI(t, bin, "analyze", "flame", a)
		want := "cat;main;__libc_open64;entry_SYSCALL_64;do_syscall_64;__x64_sys_openat;do_sys_openat2.isra.0 500\n"
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("folded output lacks %q:\n%s%s", want, r.stdout, r.stderr)
		}
		svg, pb := filepath.Join(dir, "f.svg"), filepath.Join(dir, "f.pb.gz")
		r = runCLI(t, bin, "analyze", "flame", "--weight", "latency", "--svg", svg, "--pprof", pb, a)
		if r.code != 0 || r.stdout != "" {
			t.Fatalf("exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
		}
		checkSVG(t, svg)
		gobin := requireToolAnalyze(t, "go")
		out, err := exec.Command(gobin, "tool", "pprof", "-top", pb).CombinedOutput()
		if err != nil {
			t.Fatalf("go tool pprof: %v\n%s", err, out)
		}
		if !regexp.MustCompile(`Type: latency`).Match(out) || !strings.Contains(string(out), "do_sys_openat2.isra.0") {
			t.Errorf("pprof -top:\n%s", out)
		}
	})

	t.Run("diff", func(t *testing.T) {
		svg := filepath.Join(dir, "d.svg")
		r := runCLI(t, bin, "analyze", "diff", "--json", "--svg", svg, a, b)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var d struct {
			Warnings     []string `json:"warnings"`
			LossMismatch bool     `json:"loss_mismatch"`
			Probes       []struct {
				Name   string   `json:"name"`
				PValue *float64 `json:"p_value"`
				A, B   struct {
					Count uint64 `json:"count"`
					P50   uint64 `json:"p50_ns"`
					P99   uint64 `json:"p99_ns"`
					Lost  uint64 `json:"lost"`
				}
			} `json:"probes"`
			Stacks []struct {
				Stack string `json:"stack"`
			} `json:"stacks"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
			t.Fatal(err)
		}
		if !d.LossMismatch || len(d.Warnings) == 0 {
			t.Errorf("loss mismatch not reported: %+v", d.Warnings)
		}
		found := false
		for _, p := range d.Probes {
			if p.Name == "syscall:openat" {
				found = true
				if p.PValue == nil || *p.PValue > 1e-6 || p.B.P50 < 2*p.A.P50 || p.B.Lost != 11 {
					t.Errorf("openat: %+v", p)
				}
			}
		}
		if !found {
			t.Errorf("no syscall:openat probe in %+v", d.Probes)
		}
		for _, s := range d.Stacks {
			if strings.Contains(s.Stack, ".isra") || strings.Contains(s.Stack, ".constprop") {
				t.Errorf("suffix not normalized: %s", s.Stack)
			}
		}
		checkSVG(t, svg)
		r = runCLI(t, bin, "analyze", "diff", a, b)
		if !strings.HasPrefix(r.stdout, "WARNING: the traces lost different amounts") || !strings.Contains(r.stderr, "WARNING") {
			t.Errorf("text diff not loud about loss:\n%s\n%s", r.stdout, r.stderr)
		}
	})

	t.Run("report", func(t *testing.T) {
		out := filepath.Join(dir, "r.html")
		r := runCLI(t, bin, "analyze", "report", b, "-o", out)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		html, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"6.12.117-amd64", "11 samples lost", "syscall:openat", "kpcap-flame"} {
			if !bytes.Contains(html, []byte(w)) {
				t.Errorf("report lacks %q", w)
			}
		}
		chromium := requireToolAnalyze(t, "chromium")
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0",
			"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+out)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium: %v\n%s", err, e.String())
		}
		if !strings.Contains(o.String(), `data-report-ready="1"`) || !strings.Contains(o.String(), `data-ready="1"`) {
			t.Error("report scripts did not run in chromium")
		}
		if strings.Contains(e.String(), "Uncaught") {
			t.Errorf("console error:\n%s", e.String())
		}
	})

	t.Run("kernel traces", func(t *testing.T) {
		kdir := filepath.Join("..", "..", "testdata", "kernels")
		k61, k612 := filepath.Join(kdir, "openat-6.1.pcapng.zst"), filepath.Join(kdir, "openat-6.12.pcapng.zst")
		for _, p := range []string{k61, k612} {
			if _, err := os.Stat(p); err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("committed kernel trace missing: %v", err)
				}
				t.Skipf("%s not committed: %v", p, err)
			}
			r := runCLI(t, bin, "analyze", "summary", p)
			if r.code != 0 || !strings.Contains(r.stdout, "kprobes:openat2") {
				t.Errorf("summary %s: exit %d\n%s%s", p, r.code, r.stdout, r.stderr)
			}
			r = runCLI(t, bin, "analyze", "latency", "--json", p)
			if r.code != 0 || !strings.Contains(r.stdout, `"name": "do_sys_openat2"`) {
				t.Errorf("latency %s: exit %d\n%s%s", p, r.code, r.stdout, r.stderr)
			}
		}
		r := runCLI(t, bin, "analyze", "diff", "--json", k61, k612)
		var d struct {
			A, B struct {
				Kernel string `json:"kernel"`
			}
			Probes []struct {
				Name   string   `json:"name"`
				PValue *float64 `json:"p_value"`
			} `json:"probes"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
			t.Fatalf("diff JSON: %v\n%s", err, r.stderr)
		}
		ok := false
		for _, p := range d.Probes {
			ok = ok || (p.Name == "do_sys_openat2" && p.PValue != nil)
		}
		if !ok || !strings.HasPrefix(d.A.Kernel, "6.1.") || !strings.HasPrefix(d.B.Kernel, "6.12.") {
			t.Errorf("diff of kernels: %+v", d)
		}
	})

	t.Run("errors", func(t *testing.T) {
		garbage := filepath.Join(dir, "garbage.pcapng.zst")
		os.WriteFile(garbage, bytes.Repeat([]byte("not a trace "), 100), 0o644)
		for _, tc := range []struct {
			args []string
			code int
			msg  string
		}{
			{[]string{"analyze"}, 2, "missing subcommand"},
			{[]string{"analyze", "frob"}, 2, `unknown analyze subcommand "frob"`},
			{[]string{"analyze", "summary"}, 2, "want one or more trace FILEs"},
			{[]string{"analyze", "summary", filepath.Join(dir, "missing")}, 1, "open "},
			{[]string{"analyze", "summary", garbage}, 1, "garbage.pcapng.zst"},
			{[]string{"analyze", "latency", "--unit", "weeks", a}, 2, "--unit"},
			{[]string{"analyze", "latency", "--start", "x", a}, 2, "--start and --end go together"},
			{[]string{"analyze", "latency", "--start", "nope", "--end", "kpcap:open_ret", a}, 1, `no source matches "nope"`},
			{[]string{"analyze", "latency", "--by", "nofield", a}, 1, `"nofield"`},
			{[]string{"analyze", "flame", "--weight", "bytes", a}, 2, "--weight"},
			{[]string{"analyze", "diff", a}, 2, "two trace files"},
			{[]string{"analyze", "report", a}, 2, "missing -o"},
			{[]string{"analyze", "summary", "--bogus", a}, 2, "unknown flag"},
			{[]string{"analyze", "summary", "--since", "2s", "--until", "1s", a}, 2, "--until 1s is not after --since 2s"},
		} {
			r := runCLI(t, bin, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
				t.Errorf("kpcap %v: exit %d (want %d), stderr %q (want %q)", tc.args, r.code, tc.code, r.stderr, tc.msg)
			}
		}
		if r := runCLI(t, bin, "analyze", "--help"); r.code != 0 || !strings.Contains(r.stdout, "Examples:") {
			t.Errorf("help: %d %s", r.code, r.stdout)
		}
	})
}

func checkSVG(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	frames := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: not well-formed: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "g" {
			frames++
		}
	}
	if frames < 5 || !bytes.Contains(data, []byte("<script>")) {
		t.Errorf("%s: %d frames", path, frames)
	}
}
