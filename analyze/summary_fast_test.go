package analyze

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/kpcap/kpcap/analyze/internal/testtrace"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
)

// checkFastSummary summarizes path through the fast path and through
// replay batches and fails unless both give the same summary (JSON and
// text). wantFast says whether the fast path must serve it or decline.
func checkFastSummary(t *testing.T, path string, ro replay.Options, so SummaryOptions, wantFast bool) *Summary {
	t.Helper()
	open := func() *replay.Reader {
		r, err := replay.Open(path, ro)
		if err != nil {
			t.Fatalf("replay.Open %s: %v", path, err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	r := open()
	fast, ok, err := summarizeFast(r, so)
	if err != nil {
		t.Fatalf("%s: fast path: %v", path, err)
	}
	if ok != wantFast {
		t.Fatalf("%s: fast path served it: %v, want %v", path, ok, wantFast)
	}
	if !ok {
		// Declining must leave the input untouched for the batch path.
		if fast, err = Summarize(r, so); err != nil {
			t.Fatalf("%s: Summarize after decline: %v", path, err)
		}
	}
	slow, err := summarizeBatches(open(), so)
	if err != nil {
		t.Fatalf("%s: batch path: %v", path, err)
	}
	fj, _ := json.MarshalIndent(fast, "", " ")
	sj, _ := json.MarshalIndent(slow, "", " ")
	if !bytes.Equal(fj, sj) {
		t.Fatalf("%s: fast and batch summaries differ:\nfast:  %s\nbatch: %s", path, fj, sj)
	}
	var ft, st bytes.Buffer
	if err := WriteSummaryText(&ft, fast, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteSummaryText(&st, slow, false); err != nil {
		t.Fatal(err)
	}
	if ft.String() != st.String() {
		t.Fatalf("%s: text differs:\n%s\n---\n%s", path, ft.String(), st.String())
	}
	return fast
}

func TestFastSummaryCommittedKernels(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "kernels", "*.pcapng.zst"))
	if len(paths) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("no committed kernel traces under testdata/kernels")
		}
		t.Skip("no committed kernel traces under testdata/kernels")
	}
	for _, p := range paths {
		s := checkFastSummary(t, p, replay.Options{}, SummaryOptions{}, true)
		if s.Events == 0 {
			t.Errorf("%s: no events", p)
		}
		checkFastSummary(t, p, replay.Options{}, SummaryOptions{TopN: 1, MaxBuckets: 3}, true)
	}
}

func TestFastSummaryGenerated(t *testing.T) {
	dir := t.TempDir()
	openat := testtrace.Openat(t, filepath.Join(dir, "openat.pcapng.zst"), "6.1.0-test", "", 5000, 1, 7)
	f, err := format.Open(openat)
	if err != nil {
		t.Fatal(err)
	}
	frames := len(f.Frames)
	f.Close()
	if frames < 4 {
		t.Fatalf("want a trace of several frames, got %d", frames)
	}
	s := checkFastSummary(t, openat, replay.Options{}, SummaryOptions{}, true)
	if len(s.Fields) == 0 || s.StacksWith == 0 || s.LostTotal == 0 {
		t.Fatalf("trace lacks string fields, stacks or loss: %+v", s)
	}
	checkFastSummary(t, openat, replay.Options{Workers: 1}, SummaryOptions{TopN: 2, MaxBuckets: 5}, true)
	// Leaving out the earliest source moves the rate's start: the guess
	// from the frame index is wrong and the pass runs again.
	checkFastSummary(t, openat, replay.Options{Probes: []string{"sys_exit_openat", "kpcap:open_ret"}}, SummaryOptions{}, true)
	// Filters and windows belong to the batch path.
	checkFastSummary(t, openat, replay.Options{Filter: "ret >= 0"}, SummaryOptions{}, false)
	checkFastSummary(t, openat, replay.Options{Since: 1_000_100_000}, SummaryOptions{}, false)
}

// genTrace writes a trace of frames (each flushed on its own) of samples
// of sys_enter_openat (0), uprobe_open (1, a string field) and
// sched_process_exec (2).
func genTrace(t *testing.T, path string, comms []format.Comm, frames [][]format.Sample) string {
	t.Helper()
	g := testtrace.New(t, path, "6.1.0-test", []testtrace.Source{
		{Src: format.Source{Name: "syscalls:sys_enter_openat", Kind: format.KindTracepoint}, Format: "sys_enter_openat"},
		{Src: format.Source{Name: "kpcap:open", Kind: format.KindUprobe, Target: "/bin/sh:0x10"}, Format: "uprobe_open"},
		{Src: format.Source{Name: "sched:sched_process_exec", Kind: format.KindTracepoint}, Format: "sched_process_exec"},
	})
	for _, c := range comms {
		if err := g.W.AddComm(c); err != nil {
			t.Fatal(err)
		}
	}
	g.Lost(format.Lost{Time: 2_000_000, CPU: 1, Source: 1, Count: 5})
	for _, fr := range frames {
		for i := range fr {
			s := &fr[i]
			if s.Raw != nil { // as given (e.g. truncated)
				if err := g.W.WriteSample(s); err != nil {
					t.Fatal(err)
				}
				continue
			}
			var vals map[string]any
			switch s.Source {
			case 0:
				vals = map[string]any{"__syscall_nr": 257, "dfd": -100, "filename": 0x7ffe0000, "flags": 0}
			case 1:
				vals = map[string]any{"dfd": -100, "filename": fmt.Sprintf("/f/%d", s.Time%7), "flags": 0}
			case 2:
				vals = map[string]any{"filename": "/usr/bin/cat", "pid": int(s.PID), "old_pid": int(s.PID)}
			}
			g.Sample(s.Source, s.Time, s.CPU, s.PID, s.TID, vals, s.Callchain)
		}
		if err := g.W.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	g.Close(nil)
	return path
}

func TestFastSummaryOrderAndComms(t *testing.T) {
	dir := t.TempDir()
	comms := []format.Comm{
		{PID: 10, TID: 10, Time: 0, Comm: "sh"},
		{PID: 10, TID: 10, Time: 1_500_000, Comm: "cat"}, // exec
		{PID: 40, TID: 40, Time: 0, Comm: "a"},
		{PID: 40, TID: 41, Time: 0, Comm: "b"},
		{PID: 50, TID: 50, Time: 0, Comm: ""},
	}
	smp := func(src uint32, ts uint64, cpu, pid, tid uint32) format.Sample {
		return format.Sample{Source: src, Time: ts, CPU: cpu, PID: pid, TID: tid}
	}
	frames := [][]format.Sample{
		// unsorted inside, and a task the trace never names (pid 20)
		{smp(0, 1_000_300, 0, 10, 10), smp(1, 1_000_100, 1, 10, 10), smp(0, 1_000_200, 0, 20, 20), smp(2, 1_000_200, 300, 10, 10)},
		// overlaps the first frame: merged
		{smp(1, 1_000_150, 1, 20, 20), smp(0, 1_600_000, 0, 10, 10), smp(0, 1_600_000, 1, 50, 50)},
		// the same ts for one pid under two comms in two frames: the later frame's wins
		{smp(0, 5_000_000, 0, 40, 41), smp(1, 5_000_000, 0, 40, 41)},
		{smp(0, 5_000_000, 1, 40, 40), smp(0, 90_000_000, 1, 10, 10)},
		{smp(0, 400_000_000, 0, 10, 10), smp(1, 400_000_001, 0, 60, 60)},
	}
	p := genTrace(t, filepath.Join(dir, "order.pcapng.zst"), comms, frames)
	s := checkFastSummary(t, p, replay.Options{}, SummaryOptions{}, true)
	checkFastSummary(t, p, replay.Options{BatchSize: 2}, SummaryOptions{MaxBuckets: 4}, true)
	for _, pc := range s.PIDs {
		if pc.PID == 40 && pc.Comm != "a" {
			t.Errorf("pid 40 named %q, want the later frame's \"a\"", pc.Comm)
		}
		if pc.PID == 10 && pc.Comm != "cat" {
			t.Errorf("pid 10 named %q, want \"cat\"", pc.Comm)
		}
	}

	// A frame going back in time behind an emitted batch: rows come out of
	// order, which the batch path reports; the fast path declines.
	back := [][]format.Sample{
		{smp(0, 1_000_000, 0, 10, 10), smp(0, 1_000_001, 0, 10, 10), smp(0, 1_000_002, 0, 10, 10)},
		{smp(0, 2_000_000, 0, 10, 10), smp(0, 2_000_001, 0, 10, 10), smp(0, 2_000_002, 0, 10, 10)},
		{smp(0, 900_000, 0, 40, 40), smp(0, 900_001, 0, 40, 41), smp(0, 900_002, 0, 40, 40)},
	}
	p = genTrace(t, filepath.Join(dir, "back.pcapng.zst"), comms, back)
	checkFastSummary(t, p, replay.Options{}, SummaryOptions{}, true) // coalesced, then merged: in order
	checkFastSummary(t, p, replay.Options{BatchSize: 4}, SummaryOptions{}, false)

	// A payload shorter than its format: the batch path warns.
	short := smp(0, 3_000_000, 0, 10, 10)
	short.Raw = make([]byte, 12)
	p = genTrace(t, filepath.Join(dir, "short.pcapng.zst"), comms, [][]format.Sample{{smp(0, 2_000_000, 0, 10, 10), short}})
	checkFastSummary(t, p, replay.Options{}, SummaryOptions{}, false)

	// More distinct values than topK counts exactly.
	var many []format.Sample
	for i := range maxDistinct + 10 {
		many = append(many, smp(1, uint64(1_000_000+i), 0, 10, 10))
	}
	g := testtrace.New(t, filepath.Join(dir, "many.pcapng.zst"), "6.1.0-test", []testtrace.Source{
		{Src: format.Source{Name: "kpcap:open", Kind: format.KindUprobe}, Format: "uprobe_open"},
	})
	for _, s := range many {
		g.Sample(0, s.Time, 0, 10, 10, map[string]any{"dfd": 1, "filename": fmt.Sprintf("/f/%d", s.Time), "flags": 0}, nil)
	}
	g.Close(nil)
	// (Which of the equally counted values the batch path's topK keeps
	// depends on map order, so only the decline and the flag are checked.)
	r, err := replay.Open(filepath.Join(dir, "many.pcapng.zst"), replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, ok, err := summarizeFast(r, SummaryOptions{}); ok || err != nil {
		t.Fatalf("fast path on %d distinct values: served %v, error %v", len(many), ok, err)
	}
	sm, err := Summarize(r, SummaryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sm.Events != uint64(len(many)) || len(sm.Fields) != 1 || !sm.Fields[0].Approximate {
		t.Fatalf("after decline: %d events, fields %+v", sm.Events, sm.Fields)
	}
}

// TestFastSummaryRecorded records real tracepoints (string fields, exec
// comm changes, several CPUs) with kpcap and compares both paths.
func TestFastSummaryRecorded(t *testing.T) {
	if os.Geteuid() != 0 || runtime.GOOS != "linux" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but not root on Linux: cannot record a trace")
		}
		t.Skip("recording needs root on Linux")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "kpcap")
	if out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "../cmd/kpcap").CombinedOutput(); err != nil {
		t.Fatalf("build kpcap: %v\n%s", err, out)
	}
	trace := filepath.Join(dir, "rec.pcapng.zst")
	cmd := exec.Command(bin, "record", "-q", "-o", trace,
		"-e", "sched:sched_process_exec", "-e", "sched:sched_switch",
		"-e", "syscalls:sys_enter_openat", "-e", "syscalls:sys_exit_openat",
		"--", "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do cat /etc/hostname /etc/passwd >/dev/null; ls / >/dev/null; done")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kpcap record: %v\n%s", err, out)
	}
	s := checkFastSummary(t, trace, replay.Options{}, SummaryOptions{}, true)
	if s.Events < 100 || len(s.Fields) == 0 || len(s.PIDs) < 2 {
		t.Fatalf("recorded trace too thin: %d events, %d string fields, %d pids", s.Events, len(s.Fields), len(s.PIDs))
	}
	checkFastSummary(t, trace, replay.Options{}, SummaryOptions{TopN: 3, MaxBuckets: 8}, true)
}

// TestFastSummaryExtremeTimes checks the rate buckets at the ends of the
// clock, where bucket bounds overflow: both paths must count alike.
func TestFastSummaryExtremeTimes(t *testing.T) {
	dir := t.TempDir()
	comms := []format.Comm{{PID: 10, TID: 10, Comm: "sh"}}
	smp := func(ts uint64, cpu uint32) format.Sample {
		return format.Sample{Source: 0, Time: ts, CPU: cpu, PID: 10, TID: 10}
	}
	top := ^uint64(0)
	served := 0
	for name, frames := range map[string][][]format.Sample{
		"top":  {{smp(top-3_000_000, 0), smp(top-2_000_000, 1)}, {smp(top-1, 0), smp(top, 1), smp(top, 0)}},
		"wide": {{smp(1, 0), smp(2, 0), smp(1<<62, 1)}, {smp(1<<63, 0), smp(top-1, 1)}, {smp(top, 0)}},
	} {
		p := genTrace(t, filepath.Join(dir, name+".pcapng.zst"), comms, frames)
		for _, b := range []int{1, 3, 60} {
			// Rows beyond the last bucket make the fast path decline; when it
			// serves, it must agree with the batch path.
			r, err := replay.Open(p, replay.Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, ok, err := summarizeFast(r, SummaryOptions{MaxBuckets: b})
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			checkFastSummary(t, p, replay.Options{}, SummaryOptions{MaxBuckets: b}, ok)
			served += map[bool]int{true: 1}[ok]
		}
	}
	t.Logf("fast path served %d of 6", served)
	if served < 3 {
		t.Fatalf("the fast path served %d of 6 summaries: the overflowing buckets went untested", served)
	}
}
