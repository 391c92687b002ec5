package report

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/analyze/flame"
	"github.com/kpcap/kpcap/analyze/stats"
	"github.com/kpcap/kpcap/format"
)

// requireTool skips locally when a tool is missing, fails under CI=true.
func requireTool(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI: %v", path, err)
		}
		t.Skipf("%s not installed", path)
	}
}

func sampleData() *Data {
	d := stats.NewDist(nil)
	for i := range 1000 {
		d.Add(uint64(500 + i*i%20000))
	}
	fl := &analyze.FuncLatency{Name: "do_sys_openat2", Dist: d, Unmatched: &analyze.Unmatched{Name: "do_sys_openat2", Entries: 2, Returns: 1}}
	fl.Count, fl.P50, fl.P90, fl.P99, fl.P999, fl.Max = d.Count(), d.Quantile(.5), d.Quantile(.9), d.Quantile(.99), d.Quantile(.999), d.Max()
	for _, b := range d.Log2() {
		fl.Histogram = append(fl.Histogram, analyze.HistBucket{Low: b.Low, High: b.High, Count: b.Count})
	}
	p := flame.New("samples")
	p.Add([]string{"cat", "entry_SYSCALL_64", "do_syscall_64", "__x64_sys_openat", "do_sys_openat2"}, 70)
	p.Add([]string{"cat", "entry_SYSCALL_64", "do_syscall_64", "__x64_sys_read", "vfs_read"}, 30)
	p.Add([]string{"bash", "entry_SYSCALL_64", "do_syscall_64", "__x64_sys_openat", "do_sys_openat2 <script>alert(1)</script>"}, 10)
	return &Data{
		Title:     "kpcap report: test </title> & trace",
		Generated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Summary: &analyze.Summary{
			File: "trace.pcapng.zst", Application: "kpcap 0.1.0",
			Host:    format.Host{Hostname: "box", Kernel: "6.1.0-56-amd64", Machine: "x86_64", OS: "linux", CPUs: 2, PageSize: 4096},
			Capture: format.Capture{Args: []string{"kpcap", "record", "-d", "5s"}},
			Events:  110, DurationNS: 5e9, FirstNS: 1, LastNS: 5e9 + 1,
			Lost:       analyze.Loss{Total: 3, RingLost: 3, ByCPU: []analyze.CPULoss{{CPU: 1, Count: 3}}},
			Sources:    []analyze.SourceCount{{Name: "syscalls:sys_enter_openat", Kind: "tracepoint", Events: 110, RatePerSec: 22, Lost: 3}},
			CPUs:       []analyze.CPUCount{{CPU: 0, Events: 60}, {CPU: 1, Events: 50, Lost: 3}},
			Comms:      []analyze.NameCount{{Name: "cat", Count: 100}, {Name: "bash", Count: 10}},
			PIDs:       []analyze.PIDCount{{PID: 42, Comm: "cat", Events: 100}},
			Rate:       analyze.Timeline{BucketNS: 1e8, Events: []uint64{10, 30, 50, 20}, Lost: []uint64{0, 3, 0, 0}},
			Fields:     []analyze.FieldTop{{Field: "filename", Values: []analyze.NameCount{{Name: "/etc/passwd", Count: 100}}}},
			Warnings:   []string{"frame 3: truncated"},
			StacksWith: 110,
		},
		Latency: &analyze.Latency{Functions: []*analyze.FuncLatency{fl}, UnmatchedEntries: 2, UnmatchedReturns: 1, Lost: 3, Loss: analyze.Loss{Total: 3}},
		Flame:   &analyze.Flame{Profile: p, Events: 110},
	}
}

func TestWrite(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, sampleData()); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{"<!DOCTYPE html>", "6.1.0-56-amd64", "3 samples lost", "do_sys_openat2", "svg class=\"hist\"",
		"class=\"kpcap-flame\"", "/etc/passwd", "frame 3: truncated", "data-report-ready", "kpcap report: test &lt;/title&gt; &amp; trace"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(s, "<script>alert(1)") {
		t.Error("frame name not escaped")
	}
	if regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`).MatchString(s) {
		t.Error("report references the network")
	}
}

// TestChromium renders the report headless: a non-blank screenshot, no
// console errors, and both scripts (page and flame graph) ran.
func TestChromium(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	requireTool(t, chromium)
	dir := t.TempDir()
	html := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := Write(&b, sampleData()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(html, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "shot.png")
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--enable-logging=stderr", "--v=0", "--window-size=1200,2000"}
	run := func(extra ...string) (stdout, stderr string) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		args := append(append([]string{}, base...), "--user-data-dir="+t.TempDir())
		args = append(args, extra...)
		args = append(args, "file://"+html)
		cmd := exec.CommandContext(ctx, chromium, args...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", extra, err, e.String())
		}
		return o.String(), e.String()
	}
	dom, logs := run("--dump-dom")
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "Uncaught") || strings.Contains(l, "CONSOLE") && strings.Contains(l, "ERROR") {
			t.Errorf("console error: %s", l)
		}
	}
	if !strings.Contains(dom, `data-report-ready="1"`) {
		t.Error("page script did not run")
	}
	if !strings.Contains(dom, `data-ready="1"`) {
		t.Error("flame graph script did not run")
	}
	if !strings.Contains(dom, `&quot;do_sys_openat2&quot;`) && !strings.Contains(dom, `"name": "do_sys_openat2"`) {
		t.Error("raw JSON not rendered by the page script")
	}
	_, logs = run("--screenshot=" + shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, logs)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	nonWhite := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 2 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 2 {
			r, g, b, _ := img.At(x, y).RGBA()
			if r < 0xf000 || g < 0xf000 || b < 0xf000 {
				nonWhite++
			}
		}
	}
	total := (bounds.Dx() / 2) * (bounds.Dy() / 2)
	if nonWhite < total/50 {
		t.Fatalf("screenshot nearly blank: %d of %d sampled pixels not white", nonWhite, total)
	}
	if keep := os.Getenv("KPCAP_KEEP_SCREENSHOT"); keep != "" {
		data, _ := os.ReadFile(shot)
		os.WriteFile(keep, data, 0o644)
	}
}
