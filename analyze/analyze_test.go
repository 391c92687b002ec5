package analyze

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/analyze/internal/testtrace"
	"github.com/kpcap/kpcap/replay"
)

func TestSummaryTrace(t *testing.T) {
	path := testtrace.Openat(t, filepath.Join(t.TempDir(), "a.pcapng.zst"), "6.1.0-test", "", 1000, 1, 7)
	s, err := Summarize(openReplay(t, path), SummaryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 1000 iterations: enter, uprobe, uretprobe, exit = 4 each, plus 200
	// recursive uprobe/uretprobe, 10 exec events, 2 unmatched.
	if want := uint64(4000 + 400 + 10 + 2); s.Events != want {
		t.Errorf("events %d, want %d", s.Events, want)
	}
	want := map[string]uint64{"syscalls:sys_enter_openat": 1001, "syscalls:sys_exit_openat": 1001, "kpcap:open": 1200, "kpcap:open_ret": 1200, "sched:sched_process_exec": 10}
	for _, sc := range s.Sources {
		if sc.Events != want[sc.Name] {
			t.Errorf("source %s: %d events, want %d", sc.Name, sc.Events, want[sc.Name])
		}
	}
	if s.Lost.Total != 7 || len(s.Lost.ByCPU) != 1 || s.Lost.ByCPU[0].CPU != 1 {
		t.Errorf("lost %+v", s.Lost)
	}
	var lostInRate uint64
	for _, l := range s.Rate.Lost {
		lostInRate += l
	}
	if lostInRate != 7 {
		t.Errorf("rate timeline lost %d", lostInRate)
	}
	var sum uint64
	for _, c := range s.Rate.Events {
		sum += c
	}
	if sum != s.Events || len(s.Rate.Events) > 60 {
		t.Errorf("rate buckets: %d events in %d buckets", sum, len(s.Rate.Events))
	}
	if len(s.CPUs) != 2 || s.CPUs[1].Lost != 7 {
		t.Errorf("cpus %+v", s.CPUs)
	}
	if len(s.Comms) != 2 || s.Comms[0] != (NameCount{"cat", s.Events - 2}) || s.Comms[1] != (NameCount{"", 2}) {
		t.Errorf("comms %+v", s.Comms)
	}
	// pid 100 runs the even calls: 500*4 events, 100 recursions (i%10 == 0) of 2, 10 execs.
	if len(s.PIDs) != 4 || s.PIDs[0].PID != 100 || s.PIDs[0].Comm != "cat" || s.PIDs[0].Events != 2210 {
		t.Errorf("pids %+v", s.PIDs)
	}
	found := false
	for _, f := range s.Fields {
		if f.Field == "filename" || strings.HasSuffix(f.Field, ".filename") {
			for _, v := range f.Values {
				if v.Name == "/etc/passwd" && v.Count == 1000 {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf("top filename values missing: %+v", s.Fields)
	}
	var b bytes.Buffer
	if err := WriteSummaryText(&b, s, false); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"LOST: 7 samples", "syscalls:sys_enter_openat", "/etc/passwd", "kernel 6.1.0-test"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("summary text lacks %q:\n%s", w, b.String())
		}
	}
	b.Reset()
	WriteSummaryText(&b, s, true)
	if !strings.ContainsAny(b.String(), "▁▂▃▄▅▆▇█") {
		t.Errorf("no sparkline on tty")
	}
}

func TestLatencyTrace(t *testing.T) {
	path := testtrace.Openat(t, filepath.Join(t.TempDir(), "a.pcapng.zst"), "6.1.0-test", "", 1000, 1, 0)
	l, err := MeasureLatency(openReplay(t, path), LatencyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*FuncLatency{}
	for _, f := range l.Functions {
		byName[f.Name] = f
	}
	sc := byName["syscall:openat"]
	if sc == nil || sc.Count != 1000 {
		t.Fatalf("syscall:openat: %+v", sc)
	}
	// Durations: (1000 + (i%10)*100 + i%7) ns.
	if sc.P50 < 1400 || sc.P50 > 1507 || sc.Max != 1906 || sc.Min != 1000 {
		t.Errorf("openat p50 %d max %d min %d", sc.P50, sc.Max, sc.Min)
	}
	if sc.Unmatched == nil || sc.Unmatched.Entries != 1 || sc.Unmatched.Returns != 1 || sc.Unmatched.OpenAtEnd != 1 {
		t.Errorf("unmatched %+v", sc.Unmatched)
	}
	up := byName["/bin/bash:0x30000"]
	if up == nil || up.Count != 1200 || up.Min != 10 {
		t.Fatalf("uprobe pairs: %+v", up)
	}
	if l.UnmatchedEntries != 1 || l.UnmatchedReturns != 1 {
		t.Errorf("totals %d %d", l.UnmatchedEntries, l.UnmatchedReturns)
	}
	var hsum uint64
	for _, h := range sc.Histogram {
		hsum += h.Count
	}
	if hsum != 1000 || sc.Histogram[0].Low != 512 {
		t.Errorf("histogram %+v", sc.Histogram)
	}
	js, _ := json.Marshal(l)
	for _, k := range []string{`"latency":[`, `"p999_ns":`, `"low_ns":`, `"unmatched_entries":1`, `"unmatched_returns":1`, `"lost":0`, `"loss":{`} {
		if !bytes.Contains(js, []byte(k)) {
			t.Errorf("JSON lacks %s", k)
		}
	}
	var b bytes.Buffer
	WriteLatencyText(&b, l)
	if !strings.Contains(b.String(), "     usecs               : count     distribution") ||
		!strings.Contains(b.String(), "         0 -> 1          : 1000     |****************************************|") {
		t.Errorf("funclatency histogram:\n%s", b.String())
	}

	// Explicit pairs keyed by a field: enter→exit of openat by __syscall_nr
	// (all 257), which pairs across threads innermost first.
	l2, err := MeasureLatency(openReplay(t, path), LatencyOptions{Start: []string{"syscalls:sys_enter_*"}, End: []string{"syscalls:sys_exit_openat"}, By: "comm"})
	if err != nil {
		t.Fatal(err)
	}
	if len(l2.Functions) != 1 || l2.Functions[0].Count != 1000 || l2.Functions[0].Group != "cat" {
		t.Fatalf("explicit: %+v", l2.Functions)
	}
	if _, err := MeasureLatency(openReplay(t, path), LatencyOptions{Start: []string{"nope"}, End: []string{"x"}}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("bad start source: %v", err)
	}
	l3, err := MeasureLatency(openReplay(t, path), LatencyOptions{Start: []string{"syscalls:sys_enter_openat"}, End: []string{"syscalls:sys_exit_openat"}, Key: "__syscall_nr"})
	if err != nil {
		t.Fatal(err)
	}
	if l3.Functions[0].Count != 1000 {
		t.Errorf("keyed by field: %d pairs", l3.Functions[0].Count)
	}
	// "filename" is a string in kpcap:open and sched_process_exec but an
	// integer in sys_enter_openat, so replay prefixes it per source; the key
	// is found per source. No exec filename equals an opened one: nothing
	// pairs, and everything is counted.
	l4, err := MeasureLatency(openReplay(t, path), LatencyOptions{Start: []string{"kpcap:open"}, End: []string{"sched:sched_process_exec"}, Key: "filename"})
	if err != nil {
		t.Fatal(err)
	}
	if l4.Functions[0].Count != 0 || l4.UnmatchedEntries != 1200 || l4.UnmatchedReturns != 10 {
		t.Errorf("prefixed key: %d pairs, unmatched %d/%d", l4.Functions[0].Count, l4.UnmatchedEntries, l4.UnmatchedReturns)
	}
}

func TestFlameTrace(t *testing.T) {
	path := testtrace.Openat(t, filepath.Join(t.TempDir(), "a.pcapng.zst"), "6.1.0-test", ".isra.0", 100, 1, 0)
	fl, err := BuildFlame(openReplay(t, path), FlameOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	fl.Profile.WriteFolded(&b)
	want := "cat;main;__libc_open64;entry_SYSCALL_64;do_syscall_64;__x64_sys_openat;do_sys_openat2.isra.0 100\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("folded output lacks %q:\n%s", want, b.String())
	}
	if fl.Profile.Total != fl.Events {
		t.Errorf("total %d events %d", fl.Profile.Total, fl.Events)
	}
	lat, err := BuildFlame(openReplay(t, path), FlameOptions{Weight: "latency"})
	if err != nil {
		t.Fatal(err)
	}
	// The syscall entry carries the stack: its weight is the sum of openat
	// durations; the uprobe pairs have no stack.
	var sum uint64
	for i := range 100 {
		sum += testtrace.OpenatDur(i)
	}
	b.Reset()
	lat.Profile.WriteFolded(&b)
	if !strings.Contains(b.String(), "do_sys_openat2.isra.0 "+itoa(sum)+"\n") {
		t.Errorf("latency-weighted folded (want %d):\n%s", sum, b.String())
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func TestDiffTrace(t *testing.T) {
	dir := t.TempDir()
	pa := testtrace.Openat(t, filepath.Join(dir, "a.pcapng.zst"), "6.1.0-test", ".isra.0", 600, 1, 0)
	pb := testtrace.Openat(t, filepath.Join(dir, "b.pcapng.zst"), "6.12.0-test", ".constprop.0", 600, 2, 5)
	ta, err := Analyze(openReplay(t, pa), SummaryOptions{}, LatencyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Analyze(openReplay(t, pb), SummaryOptions{}, LatencyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := Compare(pa, ta, pb, tb, DiffOptions{})
	if !d.LossMismatch || len(d.Warnings) == 0 || !strings.Contains(d.Warnings[0], "lost different amounts") {
		t.Errorf("loss mismatch not flagged: %+v", d.Warnings)
	}
	var sys *ProbeDiff
	for i := range d.Probes {
		if d.Probes[i].Name == "syscall:openat" {
			sys = &d.Probes[i]
		}
	}
	if sys == nil || sys.PValue == nil || *sys.PValue > 1e-6 || !sys.Significant || sys.P50ChangePct == nil || *sys.P50ChangePct < 90 {
		t.Fatalf("openat latency diff %+v", sys)
	}
	// Stacks match across the suffixes: only one normalized stack, no change.
	for _, s := range d.Stacks {
		if strings.Contains(s.Stack, ".isra") || strings.Contains(s.Stack, ".constprop") {
			t.Errorf("stack not normalized: %s", s.Stack)
		}
	}
	var b bytes.Buffer
	WriteDiffText(&b, d)
	if !strings.HasPrefix(b.String(), "WARNING: the traces lost different amounts") {
		t.Errorf("diff text does not start with the warning:\n%s", b.String())
	}
	js, _ := json.Marshal(d)
	for _, k := range []string{`"probes":[`, `"p_value":`, `"stacks":[`, `"loss_mismatch":true`, `"a":{"count"`} {
		if !bytes.Contains(js, []byte(k)) {
			t.Errorf("diff JSON lacks %s", k)
		}
	}
}

func openReplay(t testing.TB, path string) *replay.Reader {
	t.Helper()
	r, err := replay.Open(path, replay.Options{})
	if err != nil {
		t.Fatalf("replay.Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

type windowed struct {
	*replay.Reader
	since, until uint64
}

func (w windowed) Window() (uint64, uint64) { return w.since, w.until }

// TestWindow: an analysis of a time window counts the events and loss of
// the window, and still names the capture's loss.
func TestWindow(t *testing.T) {
	// 1000 calls 10 µs apart from t=1s; 7 samples lost at call 500.
	path := testtrace.Openat(t, filepath.Join(t.TempDir(), "a.pcapng.zst"), "6.1.0-test", "", 1000, 1, 7)
	for _, tc := range []struct {
		since, until uint64
		lost         uint64
	}{
		{1_000_000_000, 1_000_000_000 + 100*10_000, 0}, // calls 0-99
		{1_000_000_000 + 400*10_000, 1_000_000_000 + 600*10_000, 7},
	} {
		r, err := replay.Open(path, replay.Options{Since: tc.since, Until: tc.until})
		if err != nil {
			t.Fatal(err)
		}
		in := windowed{r, tc.since, tc.until}
		ta, err := Analyze(in, SummaryOptions{}, LatencyOptions{})
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		s := ta.Summary
		if s.Lost.Total != tc.lost || !s.Lost.Window || s.Lost.CaptureTotal != 7 || ta.Latency.Lost != tc.lost {
			t.Errorf("window %d-%d: loss %+v, latency lost %d", tc.since, tc.until, s.Lost, ta.Latency.Lost)
		}
		if s.FirstNS < tc.since || s.LastNS >= tc.until {
			t.Errorf("window %d-%d: events from %d to %d", tc.since, tc.until, s.FirstNS, s.LastNS)
		}
		var sys *FuncLatency
		for _, f := range ta.Latency.Functions {
			if f.Name == "syscall:openat" {
				sys = f
			}
		}
		if sys == nil || sys.Count < 99 || sys.Count > 200 {
			t.Errorf("window %d-%d: openat pairs %+v", tc.since, tc.until, sys)
		}
	}
}
